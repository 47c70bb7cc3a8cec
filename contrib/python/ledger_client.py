#!/usr/bin/env python3
"""Client for ledgerd's Unix socket (Python 3 standard library only).

The protocol (docs/PROTOCOL.md): the client writes one JSON event per line
(NDJSON); ledgerd answers every non-blank line, in order, with one line:

    {"ok":true,"id":"…","agent_id":"…","sequence":N,"hash":"…"}
    {"ok":false,"line":N,"error":{"code":"VALIDATION_ERROR","field":"…","message":"…"}}

An "ok" is sent only once the record is durable on the host. Error codes:
MALFORMED_JSON, VALIDATION_ERROR, TOO_LARGE (the event is wrong: do not resend it)
and UNAVAILABLE (the journal is at its disk cap or failing: retry later).

Retries without duplicates: every event gets an "id" (a UUIDv7, assigned here
when the event has none) before it is first sent. When the connection breaks
with events still unanswered, the client reconnects and sends those same events
again, in order, with the same ids; ledgerd remembers recent ids (its
--dedupe-window, 100,000 by default) and answers a resend of a record it already
holds with the original record's response instead of chaining it twice.

    from ledger_client import LedgerClient
    with LedgerClient() as ledger:                       # $LEDGER_SOCKET or /run/ledger.sock
        answer = ledger.send({"agent_id": "my-agent", "action_type": "TOOL_CALL",
                              "action_name": "Bash", "action_input": {"command": "ls"}})
        print(answer["sequence"], answer["hash"])
        answers = ledger.send_many(events)               # pipelined, answers in order

Run as a program it reads NDJSON on stdin, sends it and prints the responses:
    python3 ledger_client.py [--socket PATH] < events.ndjson
"""

import json
import os
import random
import socket
import sys
import time
import uuid

__all__ = ["LedgerClient", "LedgerError", "uuid7", "default_socket_path"]


class LedgerError(Exception):
    """ledgerd could not be reached (after the retries) or answered something unreadable."""


def default_socket_path():
    """$LEDGER_SOCKET, else /run/ledger.sock (or $XDG_RUNTIME_DIR/ledger.sock for a
    non-root user when /run is not writable), as ledgerctl and ledgerd choose it."""
    path = os.environ.get("LEDGER_SOCKET")
    if path:
        return path
    if os.getuid() == 0 or os.access("/run", os.W_OK):
        return "/run/ledger.sock"
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return os.path.join(runtime, "ledger.sock") if runtime else "/run/ledger.sock"


def uuid7():
    """A UUIDv7 (RFC 9562 §5.7) as canonical lowercase text: 48 bits of Unix
    milliseconds, then random bits, so ids sort roughly by creation time."""
    millis = time.time_ns() // 1_000_000
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76                                  # version 7
    value |= random.getrandbits(12) << 64               # rand_a
    value |= 0b10 << 62                                 # variant 10
    value |= random.getrandbits(62)                     # rand_b
    return str(uuid.UUID(int=value))


class LedgerClient:
    """A connection to ledgerd that resends unanswered events after a broken connection.

    Not thread-safe: use one client per thread (each is its own connection).
    """

    def __init__(self, socket_path=None, timeout=30.0, retries=5, window=256, backoff=0.1):
        """socket_path: ledgerd's socket (default: default_socket_path()).
        timeout: seconds to wait for ledgerd's answer before the connection counts as broken.
        retries: reconnect attempts after a failure before LedgerError is raised.
        window: most events sent ahead of their answers by send_many.
        backoff: first delay between reconnect attempts (doubles, with jitter)."""
        self.socket_path = socket_path or default_socket_path()
        self.timeout = timeout
        self.retries = retries
        self.window = max(1, window)
        self.backoff = backoff
        self.reconnects = 0
        self._sock = None
        self._buffer = b""

    # -- connection ------------------------------------------------------------

    def connect(self):
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(self.socket_path)
            except OSError:
                sock.close()
                raise
            self._sock = sock
            self._buffer = b""
        return self

    def close(self):
        """Closes the connection (answers not yet read are lost; their records are not)."""
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
                self._buffer = b""

    def __enter__(self):
        # Connect now, with the same retries as a send, so a missing daemon shows up here.
        attempt = 0
        while True:
            try:
                return self.connect()
            except OSError as error:
                attempt += 1
                self._pause(attempt, error)

    def __exit__(self, *exc):
        self.close()
        return False

    # -- sending ---------------------------------------------------------------

    @staticmethod
    def prepare(event):
        """The line to send for `event` (a dict, not changed): a copy with an "id"
        added when it has none, as compact JSON. Returns (id, line bytes)."""
        if not isinstance(event, dict):
            raise TypeError("an event is a dict (a JSON object)")
        if event.get("id") is None:
            event = dict(event)
            event["id"] = uuid7()
        line = json.dumps(event, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return event["id"], line.encode("utf-8") + b"\n"

    def send(self, event):
        """Sends one event and returns ledgerd's answer as a dict."""
        return self.send_many([event])[0]

    def send_many(self, events):
        """Sends events pipelined (at most `window` unanswered) and returns the answers
        in the same order. Events are sent again after a broken connection (same ids)."""
        prepared = [self.prepare(event) for event in events]
        answers = []
        attempt = 0
        while len(answers) < len(prepared):
            try:
                self.connect()
                sent = len(answers)      # everything unanswered is (re)sent on this connection
                while len(answers) < len(prepared):
                    while sent < len(prepared) and sent - len(answers) < self.window:
                        self._sock.sendall(prepared[sent][1])
                        sent += 1
                    answer = self._read_answer()
                    expected_id = prepared[len(answers)][0]
                    if answer.get("ok") and answer.get("id") != expected_id:
                        raise LedgerError("answer for id %s where %s was expected" % (answer.get("id"), expected_id))
                    answers.append(answer)
                    attempt = 0
            except (OSError, EOFError) as error:
                # Broken or silent connection: reconnect and resend what is unanswered.
                self.close()
                attempt += 1
                self._pause(attempt, error)
                self.reconnects += 1
        return answers

    def _pause(self, attempt, error):
        """Waits before reconnect attempt `attempt`, or raises LedgerError when out of retries."""
        if attempt > self.retries:
            raise LedgerError("ledgerd at %s unreachable after %d attempts: %s"
                              % (self.socket_path, attempt, error))
        delay = self.backoff * (2 ** (attempt - 1))
        time.sleep(delay / 2 + random.uniform(0, delay / 2))

    def _read_answer(self):
        while b"\n" not in self._buffer:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise EOFError("ledgerd closed the connection")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            return json.loads(line)
        except ValueError:
            raise LedgerError("unreadable answer from ledgerd: %r" % line[:200])


def main(arguments):
    socket_path = None
    if arguments[:1] == ["--socket"] and len(arguments) == 2:
        socket_path = arguments[1]
    elif arguments:
        sys.stderr.write("usage: ledger_client.py [--socket PATH] < events.ndjson\n")
        return 2
    events = [json.loads(line) for line in sys.stdin if line.strip()]
    try:
        with LedgerClient(socket_path) as ledger:
            answers = ledger.send_many(events)
    except (OSError, LedgerError) as error:
        sys.stderr.write("ledger_client: %s\n" % error)
        return 2
    for answer in answers:
        print(json.dumps(answer, ensure_ascii=False, separators=(",", ":")))
    return 0 if all(answer.get("ok") for answer in answers) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
