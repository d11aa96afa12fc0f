using System.Collections.Frozen;

namespace GrpcBank.Application.ReadSide;

/// <summary>
/// Latin letters with diacritics and the letter beneath (é → e, Ǣ → Æ), as their canonical decomposition has it, for
/// <see cref="SearchText.Tokens"/>. The server runs with invariant globalization, where string.Normalize has no
/// decomposition data and leaves "ö" as it is; SQLite's unicode61 tokenizer (remove_diacritics 2) folds these letters
/// by its own table, so without this a query's "ö" met the stored "o" only through a typo's edit.
/// </summary>
/// <remarks>
/// Latin-1 Supplement to Latin Extended-B (U+00C0–U+024F) and Latin Extended Additional (U+1E00–U+1EFF): each pair is a
/// letter and its base, written from Unicode's decompositions (a base followed only by combining marks). Letters without
/// such a decomposition (ø, æ, ß, ł) are not diacritic forms there and stay as they are, as in SQLite.
/// </remarks>
internal static class LatinDiacritics
{
    private const string Pairs = """
        ÀA ÁA ÂA ÃA ÄA ÅA ÇC ÈE ÉE ÊE ËE ÌI ÍI ÎI ÏI ÑN ÒO ÓO ÔO ÕO ÖO ÙU ÚU ÛU ÜU ÝY àa áa âa ãa äa åa
        çc èe ée êe ëe ìi íi îi ïi ñn òo óo ôo õo öo ùu úu ûu üu ýy ÿy ĀA āa ĂA ăa ĄA ąa ĆC ćc ĈC ĉc ĊC
        ċc ČC čc ĎD ďd ĒE ēe ĔE ĕe ĖE ėe ĘE ęe ĚE ěe ĜG ĝg ĞG ğg ĠG ġg ĢG ģg ĤH ĥh ĨI ĩi ĪI īi ĬI ĭi ĮI
        įi İI ĴJ ĵj ĶK ķk ĹL ĺl ĻL ļl ĽL ľl ŃN ńn ŅN ņn ŇN ňn ŌO ōo ŎO ŏo ŐO őo ŔR ŕr ŖR ŗr ŘR řr ŚS śs
        ŜS ŝs ŞS şs ŠS šs ŢT ţt ŤT ťt ŨU ũu ŪU ūu ŬU ŭu ŮU ůu ŰU űu ŲU ųu ŴW ŵw ŶY ŷy ŸY ŹZ źz ŻZ żz ŽZ
        žz ƠO ơo ƯU ưu ǍA ǎa ǏI ǐi ǑO ǒo ǓU ǔu ǕU ǖu ǗU ǘu ǙU ǚu ǛU ǜu ǞA ǟa ǠA ǡa ǢÆ ǣæ ǦG ǧg ǨK ǩk ǪO
        ǫo ǬO ǭo ǮƷ ǯʒ ǰj ǴG ǵg ǸN ǹn ǺA ǻa ǼÆ ǽæ ǾØ ǿø ȀA ȁa ȂA ȃa ȄE ȅe ȆE ȇe ȈI ȉi ȊI ȋi ȌO ȍo ȎO ȏo
        ȐR ȑr ȒR ȓr ȔU ȕu ȖU ȗu ȘS șs ȚT țt ȞH ȟh ȦA ȧa ȨE ȩe ȪO ȫo ȬO ȭo ȮO ȯo ȰO ȱo ȲY ȳy ḀA ḁa ḂB ḃb
        ḄB ḅb ḆB ḇb ḈC ḉc ḊD ḋd ḌD ḍd ḎD ḏd ḐD ḑd ḒD ḓd ḔE ḕe ḖE ḗe ḘE ḙe ḚE ḛe ḜE ḝe ḞF ḟf ḠG ḡg ḢH ḣh
        ḤH ḥh ḦH ḧh ḨH ḩh ḪH ḫh ḬI ḭi ḮI ḯi ḰK ḱk ḲK ḳk ḴK ḵk ḶL ḷl ḸL ḹl ḺL ḻl ḼL ḽl ḾM ḿm ṀM ṁm ṂM ṃm
        ṄN ṅn ṆN ṇn ṈN ṉn ṊN ṋn ṌO ṍo ṎO ṏo ṐO ṑo ṒO ṓo ṔP ṕp ṖP ṗp ṘR ṙr ṚR ṛr ṜR ṝr ṞR ṟr ṠS ṡs ṢS ṣs
        ṤS ṥs ṦS ṧs ṨS ṩs ṪT ṫt ṬT ṭt ṮT ṯt ṰT ṱt ṲU ṳu ṴU ṵu ṶU ṷu ṸU ṹu ṺU ṻu ṼV ṽv ṾV ṿv ẀW ẁw ẂW ẃw
        ẄW ẅw ẆW ẇw ẈW ẉw ẊX ẋx ẌX ẍx ẎY ẏy ẐZ ẑz ẒZ ẓz ẔZ ẕz ẖh ẗt ẘw ẙy ẛſ ẠA ạa ẢA ảa ẤA ấa ẦA ầa ẨA
        ẩa ẪA ẫa ẬA ậa ẮA ắa ẰA ằa ẲA ẳa ẴA ẵa ẶA ặa ẸE ẹe ẺE ẻe ẼE ẽe ẾE ếe ỀE ềe ỂE ểe ỄE ễe ỆE ệe ỈI
        ỉi ỊI ịi ỌO ọo ỎO ỏo ỐO ốo ỒO ồo ỔO ổo ỖO ỗo ỘO ộo ỚO ớo ỜO ờo ỞO ởo ỠO ỡo ỢO ợo ỤU ụu ỦU ủu ỨU
        ứu ỪU ừu ỬU ửu ỮU ữu ỰU ựu ỲY ỳy ỴY ỵy ỶY ỷy ỸY ỹy
        """;

    private static readonly FrozenDictionary<char, char> Bases =
        Pairs.Split([' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries).ToFrozenDictionary(p => p[0], p => p[1]);

    /// <summary>The letter beneath <paramref name="c"/>'s diacritics; <paramref name="c"/> itself when it has none.</summary>
    public static char Base(char c) => c < '\u00C0' ? c : Bases.GetValueOrDefault(c, c);
}
