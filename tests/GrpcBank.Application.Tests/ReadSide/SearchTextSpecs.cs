using GrpcBank.Application.ReadSide;

namespace GrpcBank.Application.Tests.ReadSide;

/// <summary>Search tokens fold diacritics as SQLite's unicode61 tokenizer does, in a build with invariant globalization too.</summary>
public sealed class SearchTextSpecs
{
    [Theory]
    [InlineData("Zoë Kravitz", new[] { "zoe", "kravitz" })]
    [InlineData("LÖVELACE-Ørsted", new[] { "lovelace", "ørsted" })]
    [InlineData("Zoe\u0308 Dvořák Nguyễn", new[] { "zoe", "dvorak", "nguyen" })] // a decomposed ë, a háček, two stacked marks
    [InlineData("O'Neil ÆSIR straße", new[] { "o", "neil", "æsir", "straße" })] // letters with no decomposition stay
    [InlineData("\U00020BB7\u7530 \U0001F600 \U00010400x", new[] { "\U00020BB7\u7530", "\U00010428x" })] // letters beyond the BMP; an emoji parts words
    [InlineData("\U0001E900\U0001E923 Diallo", new[] { "\U0001E900\U0001E923", "diallo" })] // an Adlam capital keeps its case, as unicode61 has it
    public void Tokens_AreLowerCaseRunsOfLettersAndDigits_WithoutDiacritics(string text, string[] tokens) =>
        Assert.Equal(tokens, SearchText.Tokens(text));

    /// <summary>Trigrams are three characters, as SQLite's trigram tokenizer cuts them: a letter beyond the BMP is one.</summary>
    [Theory]
    [InlineData("dorthy", "\"dor\" OR \"ort\" OR \"rth\" OR \"thy\"")]
    [InlineData("\U00020BB7\u7530\u5546\u5E97", "\"\U00020BB7\u7530\u5546\" OR \"\u7530\u5546\u5E97\"")]
    [InlineData("\U00020BB7\u7530", "")]
    public void TrigramMatch_IsOfCharacters_NotUtf16Units(string token, string match) =>
        Assert.Equal(match, SearchText.TrigramMatch(token));
}
