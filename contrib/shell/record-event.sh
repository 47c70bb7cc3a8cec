#!/bin/sh
# Records one event from a shell script and fails unless ledgerd accepted it.
#
#   ./record-event.sh AGENT_ID ACTION_TYPE ACTION_NAME [SOCKET]
#   ./record-event.sh backup-job CUSTOM nightly-backup
#
# The arguments are put into JSON as they are, so keep them to characters that
# need no JSON escaping (letters, digits, - _ . :); ACTION_TYPE must match
# [A-Z][A-Z0-9_]*. For arbitrary text, build the JSON with a JSON tool (jq,
# python3 -c 'import json,sys; …') or use contrib/python/ledger_client.py.
# Prints ledgerd's answer; exit status 0 only for an "ok":true answer.
set -eu
if [ $# -lt 3 ]; then
    echo "usage: $0 AGENT_ID ACTION_TYPE ACTION_NAME [SOCKET]" >&2
    exit 2
fi
socket=${4:-${LEDGER_SOCKET:-/run/ledger.sock}}
# A client-chosen id makes a retry of this exact event safe: ledgerd answers a
# resent id with the original record instead of chaining a second one.
id=$(cat /proc/sys/kernel/random/uuid)
answer=$(printf '{"id":"%s","agent_id":"%s","action_type":"%s","action_name":"%s","source":"cli"}\n' \
    "$id" "$1" "$2" "$3" | socat -t 30 - "UNIX-CONNECT:$socket")
printf '%s\n' "$answer"
case $answer in
    '{"ok":true,'*) exit 0 ;;
    *) exit 1 ;;
esac
