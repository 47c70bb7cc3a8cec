// LedgerCore: pure record logic. See docs/FORMAT.md.
