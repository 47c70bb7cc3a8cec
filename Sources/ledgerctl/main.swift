import LedgerCLI
LedgerCTL.main()
