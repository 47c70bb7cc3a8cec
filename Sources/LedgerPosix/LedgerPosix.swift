// Placeholder until the LedgerPosix module lands.
