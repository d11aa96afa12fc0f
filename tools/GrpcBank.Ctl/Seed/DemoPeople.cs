namespace GrpcBank.Ctl.Seed;

/// <summary>Who and what the demo bank is made of: owner names, shops, things bought, reasons for money to move.</summary>
internal static class DemoPeople
{
    public static readonly string[] FirstNames =
    [
        "Ada", "Amélie", "Lars", "Sofia", "Mateo", "Ingrid", "Jonas", "Chiara", "Luca", "Emma", "Noah", "Zoë", "Élodie", "Björn",
        "Marta", "Tomasz", "Aoife", "Seán", "Hannah", "Felix", "Lucía", "Pieter", "Anouk", "Giulia", "Henrik", "Maëlle", "Kofi",
        "Yasmin", "Oskar", "Nora",
    ];

    public static readonly string[] LastNames =
    [
        "Lovelace", "Dubois", "Andersen", "Rossi", "García", "Johansson", "Müller", "Ferrari", "Bianchi", "Schmidt", "Novak",
        "Kowalski", "Murphy", "O'Brien", "Fischer", "Weber", "Martínez", "de Vries", "Jansen", "Esposito", "Lindqvist", "Lefèvre",
        "Mensah", "Haddad", "Nowak", "Virtanen",
    ];

    public static readonly string[] Merchants =
    [
        "Café Lumière", "Nordlicht Books", "Bäckerei Sonnenschein", "Trattoria Da Marco", "Velo Atelier", "Fjord Outdoor Supply",
        "La Petite Épicerie", "Studio Kaffee & Kuchen", "Mercado Verde", "Pixel & Paper",
    ];

    public static readonly (string Description, long MinMinor, long MaxMinor)[] Purchases =
    [
        ("Flat white and croissant", 450, 950), ("Weekly groceries", 3_500, 14_000), ("Paperback novels", 1_200, 4_500),
        ("Dinner for two", 4_500, 12_000), ("Bicycle service", 6_000, 18_000), ("Hiking boots", 9_000, 24_000),
        ("Sourdough loaf", 350, 700), ("Birthday cake", 2_500, 6_500), ("Fountain pen", 3_000, 15_000),
        ("Road bike", 60_000, 180_000), ("Winter jacket", 15_000, 45_000),
    ];

    public static readonly string[] DepositReferences = ["salary", "freelance invoice", "tax refund", "gift from grandma", "savings top-up"];

    public static readonly string[] WithdrawalReferences = ["ATM withdrawal", "cash for the market", "ATM withdrawal", "rent share in cash"];

    public static readonly string[] TransferReferences = ["rent share", "dinner last night", "concert tickets", "birthday present", "holiday cottage"];

    /// <summary>Mostly EUR, as a euro-area bank's customers are.</summary>
    public static readonly string[] OtherCurrencies = ["GBP", "USD", "CHF", "SEK"];
}
