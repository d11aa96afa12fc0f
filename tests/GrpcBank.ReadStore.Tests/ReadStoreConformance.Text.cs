using GrpcBank.Application.ReadSide;

namespace GrpcBank.ReadStore.Tests;

/// <summary>Owner names as customers type them: composed or decomposed letters, letters beyond the BMP, emoji, RTL marks.</summary>
public abstract partial class ReadStoreConformance
{
    private const string ZoeComposed = "Zo\u00EB Kravitz";
    private const string JuergenDecomposed = "Ju\u0308rgen Mu\u0308ller";

    [Theory]
    [InlineData("Zo\u00EB")]
    [InlineData("Zoe\u0308")]
    [InlineData("zoe")]
    public async Task ANameSentDecomposed_IsFoundAsTheComposedOne_AndKeptAsSent(string query)
    {
        var h = new History();
        await Store.ApplyAsync([h.Opened("composed", ZoeComposed), h.Opened("decomposed", "Zoe\u0308 Saldan\u0303a")], h.Position, None);

        Assert.Equal(["Zoe\u0308 Saldan\u0303a", ZoeComposed], (await NamesFoundAsync(query, AccountOrder.OwnerName)).Order(StringComparer.Ordinal));
        Assert.Equal("Zoe\u0308 Saldan\u0303a", (await Store.GetAccountAsync("decomposed", None))!.OwnerName);
    }

    [Theory]
    [InlineData("jurgen")]
    [InlineData("J\u00FCrgen")]
    [InlineData("muller")]
    [InlineData("M\u00FCll")]
    [InlineData("jurgen muller")]
    public async Task AMarkInsideADecomposedWord_DoesNotSplitTheWord(string query)
    {
        var h = new History();
        await Store.ApplyAsync([h.Opened("de", JuergenDecomposed)], h.Position, None);

        Assert.Equal([JuergenDecomposed], await NamesFoundAsync(query));
    }

    [Theory]
    [InlineData("\U0001D400\U0001D401\U0001D402 Smith", "smith")]
    [InlineData("Ada \U0001F600 Lovelace", "lovelace")]
    [InlineData("\u200FDavid\u200F Cohen", "david")]
    [InlineData("Ana\u00A0Lima", "lima")]
    [InlineData("\U00020BB7\u7530 \u592A\u90CE", "\U00020BB7\u7530")]
    [InlineData("\U00020BB7\u7530 \u592A\u90CE", "\U00020BB7")]
    [InlineData("\U0001D400\U0001D401\U0001D402 Smith", "\U0001D400\U0001D401\U0001D402")]
    [InlineData("\U0001E900\U0001E923\U0001E924 Diallo", "\U0001E900\U0001E923\U0001E924")] // Adlam, a capital first
    [InlineData("\U00010400\U00010430 Smith", "\U00010400\U00010430")] // Deseret, a capital first
    public async Task ANameWithSymbolsMarksOrLettersBeyondTheBmp_IsFoundByItsWords_AndKeptAsSent(string name, string query)
    {
        var h = new History();
        await Store.ApplyAsync([h.Opened("odd", name)], h.Position, None);

        Assert.Equal([name], await NamesFoundAsync(query));
        Assert.Equal(name, (await Store.GetAccountAsync("odd", None))!.OwnerName);
    }

    /// <summary>The typo vocabulary's trigrams are of characters, not UTF-16 units: a word with a letter beyond the BMP has them too.</summary>
    [Fact]
    public async Task ATypoInAWordWithALetterBeyondTheBmp_FindsIt()
    {
        var h = new History();
        await Store.ApplyAsync([h.Opened("shop", "\U00020BB7\u7530\u5546\u5E97\u672C\u5E97"), h.Opened("other", "\u5C71\u7530 \u82B1\u5B50")], h.Position, None);

        Assert.Equal(["\U00020BB7\u7530\u5546\u5E97\u672C\u5E97"], await NamesFoundAsync("\U00020BB7\u7530\u5546\u5360\u672C\u5E97"));
    }

    /// <summary>A letter with a diacritic in the query is its base letter, not an edit: "Gräu" is one typo from "gray", a 4-letter word's one.</summary>
    [Fact]
    public async Task ATypoBesideADiacritic_CostsOnlyTheTypo()
    {
        await SeedNamesAsync();
        Assert.Equal(["Dorian Gray"], await NamesFoundAsync("Gräu"));
    }

    /// <summary>A name's words with diacritics are in the typo vocabulary too, folded as the index has them.</summary>
    [Fact]
    public async Task ATypoInANameWithDiacritics_FindsIt()
    {
        var h = new History();
        await Store.ApplyAsync([h.Opened("sweden", "Åsa Lindström", "SEK"), h.Opened("other", "Lind Strom", "SEK")], h.Position, None);
        Assert.Equal("Åsa Lindström", (await NamesFoundAsync("Lindstrum"))[0]);
    }
}
