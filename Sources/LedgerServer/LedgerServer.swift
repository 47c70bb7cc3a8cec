// Placeholder until the LedgerServer module lands.
