#!/usr/bin/env python3
"""Records one short agent session in the ledger through ledgerd's socket.

    python3 example.py [--socket PATH] [--agent NAME]

Sends SESSION_START, a TOOL_CALL, its TOOL_RESULT and SESSION_END, then prints
each answer: the record's id, its sequence in the agent's chain and its hash.
Exit status 0 when every event was accepted.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ledger_client import LedgerClient, LedgerError  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description="Record an example session in the ledger.")
    parser.add_argument("--socket", help="ledgerd's socket (default: $LEDGER_SOCKET or /run/ledger.sock)")
    parser.add_argument("--agent", default="example-agent", help="agent_id of the records")
    options = parser.parse_args()

    session = "example-%d" % os.getpid()
    common = {"agent_id": options.agent, "session_id": session, "source": "sdk"}
    started = time.monotonic()
    events = [
        dict(common, action_type="SESSION_START"),
        dict(common, action_type="TOOL_CALL", action_name="Bash",
             action_input={"command": "ls -la", "timeout": 30000}),
        dict(common, action_type="TOOL_RESULT", action_name="Bash", action_status="success",
             action_output={"exit_code": 0, "stdout": "total 0\n"},
             duration_ms=int((time.monotonic() - started) * 1000), labels={"env": "dev"}),
        dict(common, action_type="SESSION_END"),
    ]
    try:
        with LedgerClient(options.socket) as ledger:
            answers = ledger.send_many(events)
    except (OSError, LedgerError) as error:
        print("cannot record: %s" % error, file=sys.stderr)
        return 2
    for event, answer in zip(events, answers):
        if answer.get("ok"):
            print("%-13s ok  sequence %d  id %s  hash %s"
                  % (event["action_type"], answer["sequence"], answer["id"], answer["hash"]))
        else:
            print("%-13s refused: %s" % (event["action_type"], answer["error"]))
    return 0 if all(answer.get("ok") for answer in answers) else 1


if __name__ == "__main__":
    sys.exit(main())
