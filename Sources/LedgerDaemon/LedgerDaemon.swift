// Placeholder until the LedgerDaemon module lands.
