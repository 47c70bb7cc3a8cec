#!/bin/sh
# Sends NDJSON events from stdin to ledgerd with socat and prints ledgerd's answers,
# one line per non-blank event, in order.
#
#   ./send-socat.sh [SOCKET] < events.ndjson
#   printf '%s\n' '{"agent_id":"deploy-bot","action_type":"CUSTOM","action_name":"release"}' | ./send-socat.sh
#
# SOCKET defaults to $LEDGER_SOCKET, else /run/ledger.sock. ledgerd closes the
# connection once it has answered everything after our EOF, which ends socat;
# -t only bounds how long socat waits for that (answers come after fsync).
# Exit status: socat's (0 when the exchange completed). Check the answers for
# "ok":false yourself, e.g. with grep (see README.md).
set -eu
socket=${1:-${LEDGER_SOCKET:-/run/ledger.sock}}
exec socat -t 30 - "UNIX-CONNECT:$socket"
