using System.Globalization;
using System.Text;

namespace GrpcBank.Application.ReadSide;

/// <summary>
/// User text turned into search tokens, and the typo tolerance of RECIPES.md: tokens as SQLite's unicode61
/// tokenizer with remove_diacritics 2 sees them (the PostgreSQL read store stores and queries exactly these
/// tokens, so both engines agree on what a word is), FTS5 quoting, edit distances in C#.
/// </summary>
public static class SearchText
{
    /// <summary>Lower-case, diacritic-free tokens: runs of letters and digits, as unicode61 splits them.</summary>
    public static IReadOnlyList<string> Tokens(string text)
    {
        var folded = new StringBuilder(text.Length);
        // By code point, not UTF-16 unit: a letter beyond the BMP (the 𠮷 of the surname 𠮷田) is a letter to unicode61
        // too, where its two surrogate halves, each no letter, would have split the word and left 𠮷 unsearchable.
        foreach (var rune in text.EnumerateRunes())
        {
            // Marks already apart from their letter (a decomposed "é") are dropped; letters that carry them are folded by table.
            var category = Rune.GetUnicodeCategory(rune);
            if (category is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark) continue;
            var letter = rune.IsBmp ? new Rune(LatinDiacritics.Base((char)rune.Value)) : rune;
            if (Rune.IsLetterOrDigit(letter)) folded.Append(FoldsCase(letter) ? Rune.ToLowerInvariant(letter).ToString() : letter.ToString());
            else folded.Append(' ');
        }
        return folded.ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>
    /// Whether unicode61 lower-cases the letter: in the BMP, and beyond it only Deseret (U+10400–U+10427). A token folded
    /// where the index is not (an Adlam or Osage capital) would never meet the index's term, so such letters keep their case.
    /// </summary>
    private static bool FoldsCase(Rune letter) => letter.IsBmp || letter.Value is >= 0x10400 and <= 0x10427;

    /// <summary>
    /// Text that is not blank but holds no token (only punctuation, symbols, emoji): there is nothing to search for, so
    /// it finds nothing, as in every read store (Application's <c>AccountSearch</c>); blank text is no query at all.
    /// </summary>
    public static bool FindsNothing(string text, IReadOnlyList<string> tokens) => tokens.Count == 0 && !string.IsNullOrWhiteSpace(text);

    /// <summary>One FTS5 string literal: the token in double quotes, inner quotes doubled.</summary>
    public static string Quote(string token) => "\"" + token.Replace("\"", "\"\"") + "\"";

    /// <summary>Every token as a prefix, all required: <c>"marg"* AND "smi"*</c>.</summary>
    public static string PrefixMatch(IEnumerable<string> tokens) => string.Join(" AND ", tokens.Select(t => Quote(t) + "*"));

    /// <summary>
    /// Any of a token's trigrams, for finding vocabulary terms that look like it: of characters (code points), as SQLite's
    /// trigram tokenizer cuts them; three UTF-16 units would cut a letter beyond the BMP in half and match nothing.
    /// </summary>
    public static string TrigramMatch(string token)
    {
        var characters = token.EnumerateRunes().Select(r => r.ToString()).ToArray();
        return string.Join(" OR ", Enumerable.Range(0, Math.Max(0, characters.Length - 2)).Select(i => Quote(string.Concat(characters[i..(i + 3)]))).Distinct());
    }

    /// <summary>The largest edit distance still taken for a typo: 1 for tokens of up to 4 characters, else 2.</summary>
    public static int MaxTypos(string token) => token.Length <= 4 ? 1 : 2;

    /// <summary>
    /// How far a query token is from a term: 0 when the term starts with it (prefix search), else the
    /// optimal-string-alignment distance (a swap of neighbours counts once).
    /// </summary>
    public static int Distance(string token, string term)
    {
        if (term.StartsWith(token, StringComparison.Ordinal)) return 0;
        var d = new int[token.Length + 1, term.Length + 1];
        for (var i = 0; i <= token.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= term.Length; j++) d[0, j] = j;
        for (var i = 1; i <= token.Length; i++)
        for (var j = 1; j <= term.Length; j++)
        {
            var cost = token[i - 1] == term[j - 1] ? 0 : 1;
            d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
            if (i > 1 && j > 1 && token[i - 1] == term[j - 2] && token[i - 2] == term[j - 1])
                d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
        }
        return d[token.Length, term.Length];
    }

    public static int CommonPrefix(string a, string b)
    {
        var n = 0;
        while (n < a.Length && n < b.Length && a[n] == b[n]) n++;
        return n;
    }

    /// <summary>
    /// How far a whole text is from the query, for ranking: per query token, the edit distance to the closest
    /// token of the text, plus a fraction (below 1) for how early the two part ways; summed. Texts found only
    /// through a correction therefore rank after exact and prefix hits, and "dorthy" prefers Dorothy to Worthy.
    /// </summary>
    public static double Distance(IReadOnlyList<string> queryTokens, string text)
    {
        var tokens = Tokens(text);
        var total = 0.0;
        foreach (var q in queryTokens)
            total += tokens.Count == 0 ? q.Length : tokens.Min(t => Cost(q, t));
        return total;
    }

    /// <summary>How far a text token is from a query token, for ranking (see <see cref="Distance(IReadOnlyList{string}, string)"/>).</summary>
    public static double Cost(string queryToken, string token) =>
        Distance(queryToken, token) + (double)(queryToken.Length - Math.Min(queryToken.Length, CommonPrefix(queryToken, token))) / (queryToken.Length + 1);

    /// <summary>Corrections kept per query token.</summary>
    public const int MaxCorrections = 10;

    /// <summary>
    /// The typos a query token may stand for, among candidate vocabulary terms (a trigram index's nearest): within
    /// <see cref="MaxTypos"/>, closest first, ties by the longest common prefix; none for tokens under 3 characters.
    /// </summary>
    public static IReadOnlyList<string> Corrections(string token, IEnumerable<string> candidates) =>
        token.Length < 3
            ? []
            : candidates
                .Select(term => (Term: term, Distance: Distance(token, term)))
                .Where(c => c.Distance is > 0 && c.Distance <= MaxTypos(token))
                .OrderBy(c => c.Distance).ThenByDescending(c => CommonPrefix(token, c.Term)).ThenBy(c => c.Term, StringComparer.Ordinal)
                .Take(MaxCorrections)
                .Select(c => c.Term)
                .ToList();
}
