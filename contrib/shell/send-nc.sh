#!/bin/sh
# Sends NDJSON events from stdin to ledgerd with OpenBSD netcat (Debian's
# netcat-openbsd) and prints ledgerd's answers, one line per non-blank event.
#
#   ./send-nc.sh [SOCKET] < events.ndjson
#
# -N half-closes the socket at the end of stdin: that tells ledgerd no more lines
# come, and it closes the connection after answering the last one, which ends nc.
# Without -N, nc keeps the connection open and never exits. -w bounds the wait.
# (Other netcats differ: traditional netcat has no -N; use socat there.)
set -eu
socket=${1:-${LEDGER_SOCKET:-/run/ledger.sock}}
exec nc -N -w 30 -U "$socket"
