public enum LedgerCTL { public static func main() { print("ledgerctl") } }
