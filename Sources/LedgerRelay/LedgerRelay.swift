// Placeholder until the LedgerRelay module lands.
