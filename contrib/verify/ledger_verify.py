#!/usr/bin/env python3
"""Independent verifier for Ledger NDJSON exports (record format version 1).

Implements the normative contract "Ledger record format, version 1"
(docs/FORMAT.md in the Ledger repository; shared design notes FORMAT.md):

  * §1  input is I-JSON (RFC 7493): UTF-8, no lone surrogates, no duplicate
        member names, every number exactly representable as an IEEE-754 double
        (judged in decimal, see docs/DECISIONS.md), nesting at most 64 levels;
        the canonical form is RFC 8785 (JSON Canonicalization Scheme, JCS);
  * §2  the field rules of a stored record;
  * §3  hash = lowercase hex SHA-256 over UTF-8 JCS(record without "hash");
  * §4  chains keyed by (host_id, agent_id), sequence +1 and prev_hash links,
        host_seq strictly increasing per host (by exactly 1 with --complete).

It shares no code with Ledger: only the Python 3 standard library (json for
tokenizing, decimal for number exactness, hashlib for SHA-256). The RFC 8785
serializer below is written out here: members sorted by UTF-16 code units,
ECMAScript Number.prototype.toString for numbers, minimal string escapes.

Reports and exit status match `ledgerctl verify`: 0 when every record and chain
verifies, 1 at the first broken record (its line, chain, sequence, id and one of
the reasons malformed, not_canonical, hash_mismatch, broken_link, sequence_gap,
duplicate_sequence, host_gap), 2 on a usage or I/O error. `--json` prints the
same object as `ledgerctl verify --json`. Agreement with ledgerctl is checked by
Tests/EndToEndTests/VerifierAgreementTests.swift.
"""

import decimal
import hashlib
import json
import math
import os
import re
import sys
import time

USAGE = """usage: ledger_verify.py [--complete] [--json] [--quiet] FILE|-
  Verifies a Ledger NDJSON export (record format version 1): canonical form
  (RFC 8785), every hash, every chain link, every host's host_seq order.
  --complete  the export is each host's complete stream: host_seq must run 1, 2, 3, ...
  --json      print the report as one JSON object (the keys of `ledgerctl verify --json`)
  --quiet     print nothing; the exit status tells (0 valid, 1 broken, 2 usage/IO)
Progress goes to stderr every second when stderr is a terminal."""

MAX_DEPTH = 64
# A record is at most 1 MiB in canonical form; ledgerctl reads lines of up to 1 MiB + 1 bytes.
MAX_LINE_BYTES = (1 << 20) + 1
MAX_SAFE_INTEGER = (1 << 53) - 1
ZERO_HASH = "0" * 64


class Malformed(Exception):
    """The line is not I-JSON, or not a well-formed stored record."""


# --------------------------------------------------------------------------
# Strict I-JSON reading (FORMAT.md §1)
# --------------------------------------------------------------------------

def _reject_constant(name):
    raise Malformed("%s is not JSON" % name)


def _pairs(pairs):
    result = {}
    for name, value in pairs:
        if name in result:
            raise Malformed("duplicate member name %s" % json.dumps(name))
        result[name] = value
    return result


def _number(text):
    """A JSON number as a double, only when the double keeps its value.

    Exactness is judged in decimal: the shortest decimal that reads back as the
    same double (the digits ECMAScript prints; Python's repr) must equal the
    number as written. 0.1 and 1E30 pass; 12345678901234567890 and 1e400 fail.
    """
    value = float(text)
    if not math.isfinite(value):
        raise Malformed("number %s cannot be represented as a double; send it as a string" % text)
    if decimal.Decimal(text) != decimal.Decimal(repr(value)):
        raise Malformed("number %s cannot be represented exactly as a double; send it as a string" % text)
    return value


def _is_lone_surrogate_free(text):
    for ch in text:
        if 0xD800 <= ord(ch) <= 0xDFFF:
            return False
    return True


def _check_tree(value):
    """Depth at most MAX_DEPTH; no lone surrogates in names or strings."""
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            depth += 1
            if depth > MAX_DEPTH:
                raise Malformed("nesting deeper than %d levels" % MAX_DEPTH)
            for name, member in node.items():
                if not _is_lone_surrogate_free(name):
                    raise Malformed("lone surrogate in a member name")
                stack.append((member, depth))
        elif isinstance(node, list):
            depth += 1
            if depth > MAX_DEPTH:
                raise Malformed("nesting deeper than %d levels" % MAX_DEPTH)
            for element in node:
                stack.append((element, depth))
        elif isinstance(node, str):
            if not _is_lone_surrogate_free(node):
                raise Malformed("lone surrogate in a string")


_DECODER = json.JSONDecoder(
    object_pairs_hook=_pairs, parse_float=_number, parse_int=_number,
    parse_constant=_reject_constant, strict=True)


def parse_ijson(data):
    """Parses bytes as one I-JSON document. Numbers come back as floats."""
    try:
        text = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as error:
        raise Malformed("invalid UTF-8 at byte %d" % error.start)
    if text.startswith("\ufeff"):
        raise Malformed("a byte order mark is not JSON")
    try:
        value = _DECODER.decode(text)
    except Malformed:
        raise
    except RecursionError:
        raise Malformed("nesting deeper than %d levels" % MAX_DEPTH)
    except ValueError as error:  # json.JSONDecodeError
        raise Malformed(str(error))
    _check_tree(value)
    return value


# --------------------------------------------------------------------------
# RFC 8785 canonical form
# --------------------------------------------------------------------------

def ecmascript_number(value):
    """Number.prototype.toString of a finite double (ECMA-262 Number::toString)."""
    if value == 0:
        return "0"  # also -0
    if not math.isfinite(value):
        raise ValueError("NaN and Infinity have no JSON form")
    sign = "-" if value < 0 else ""
    # repr gives the shortest digits that read back as the same double.
    text = repr(abs(value))
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + (int(exponent) if exponent else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    # value = 0.d1 d2 ... dk × 10^n with k digits and n = point
    k, n = len(digits), point
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    exp = ("e+%d" % e) if e >= 0 else ("e-%d" % -e)
    if k == 1:
        return sign + digits + exp
    return sign + digits[0] + "." + digits[1:] + exp


_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f",
                  "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _canonical_string(text, out):
    out.append('"')
    for ch in text:
        escaped = _SHORT_ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif ch < " ":
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)  # U+007F, U+2028, "/" and all else literally
    out.append('"')


def _utf16_key(name):
    # Big-endian UTF-16 bytes compare like the sequence of UTF-16 code units.
    return name.encode("utf-16-be", errors="surrogatepass")


def _canonical(value, out):
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        _canonical_string(value, out)
    elif isinstance(value, (int, float)):
        out.append(ecmascript_number(float(value)))
    elif isinstance(value, dict):
        out.append("{")
        for index, name in enumerate(sorted(value, key=_utf16_key)):
            if index:
                out.append(",")
            _canonical_string(name, out)
            out.append(":")
            _canonical(value[name], out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for index, element in enumerate(value):
            if index:
                out.append(",")
            _canonical(element, out)
        out.append("]")
    else:
        raise TypeError("no JSON form for %r" % type(value))


def canonicalize(value):
    """JCS(value) as UTF-8 bytes."""
    out = []
    _canonical(value, out)
    return "".join(out).encode("utf-8")


# --------------------------------------------------------------------------
# Stored-record field rules (FORMAT.md §2)
# --------------------------------------------------------------------------

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_ACTION_TYPE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_STATUSES = {"success", "error", "timeout", "cancelled"}
_MAX_BYTES = {"session_id": 256, "action_name": 256, "source": 64, "capture_method": 64,
              "error_message": 65536}
FIELDS = {"action_input", "action_name", "action_output", "action_status", "action_type", "agent_id",
          "capture_method", "duration_ms", "error_message", "hash", "host_id", "host_seq", "id", "labels",
          "metadata", "origin", "prev_hash", "received_at", "schema_version", "sequence", "session_id",
          "source", "timestamp"}
STORED_REQUIRED = ["id", "schema_version", "timestamp", "host_id", "received_at", "origin",
                   "sequence", "host_seq", "prev_hash", "hash"]


def _utf8_length(text):
    return len(text.encode("utf-8"))


def _is_number(value):
    return isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool))


def _exact_integer(value):
    """The integer a JSON number denotes, when it is one within ±(2^53-1)."""
    if not _is_number(value):
        return None
    value = float(value)
    if value != math.trunc(value) or abs(value) > MAX_SAFE_INTEGER:
        return None
    return int(value)


def _has_control_character(text):
    return any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in text)


def _days_in_month(year, month):
    if month == 2:
        return 29 if (year % 4 == 0 and year % 100 != 0) or year % 400 == 0 else 28
    return 30 if month in (4, 6, 9, 11) else 31


def rfc3339_problem(text):
    """None when text is an RFC 3339 §5.6 date-time (T/Z any case, leap second allowed)."""
    b = text.encode("utf-8")
    n = len(b)
    generic = "expected an RFC 3339 date-time such as 2026-02-17T10:30:00Z"
    if n < 20:
        return generic

    def digits(at, count):
        value = 0
        for i in range(at, at + count):
            d = b[i] - 48
            if not 0 <= d < 10:
                return None
            value = value * 10 + d
        return value

    year, month, day = digits(0, 4), digits(5, 2), digits(8, 2)
    hour, minute, second = digits(11, 2), digits(14, 2), digits(17, 2)
    if (None in (year, month, day, hour, minute, second) or b[4] != 0x2D or b[7] != 0x2D
            or b[10] | 0x20 != 0x74 or b[13] != 0x3A or b[16] != 0x3A):
        return generic
    if not 1 <= month <= 12:
        return "month %d is out of range" % month
    if not 1 <= day <= _days_in_month(year, month):
        return "day %d is out of range" % day
    if hour >= 24 or minute >= 60 or second > 60:
        return "time of day is out of range"
    i = 19
    if b[i] == 0x2E:
        i += 1
        start = i
        while i < n and 0x30 <= b[i] <= 0x39:
            i += 1
        if i == start:
            return "expected digits after the decimal point"
    if i >= n:
        return "a time zone offset (Z or +-HH:MM) is required"
    if b[i] | 0x20 == 0x7A:
        i += 1
    elif b[i] in (0x2B, 0x2D):
        if n - i != 6:
            return "invalid time zone offset, expected +-HH:MM"
        oh, om = digits(i + 1, 2), digits(i + 4, 2)
        if oh is None or om is None or b[i + 3] != 0x3A:
            return "invalid time zone offset, expected +-HH:MM"
        if oh >= 24 or om >= 60:
            return "time zone offset out of range"
        i += 6
    else:
        return "a time zone offset (Z or +-HH:MM) is required"
    return None if i == n else "unexpected characters after the date-time"


def _require_string(name, value):
    if not isinstance(value, str):
        raise Malformed("%s: %s must be a string" % (name, name))


def check_field(name, value):
    if name in ("action_input", "action_output"):
        return
    if name in ("metadata", "origin"):
        if not isinstance(value, dict):
            raise Malformed("%s: %s must be an object" % (name, name))
    elif name == "id":
        _require_string(name, value)
        if not _UUID.fullmatch(value):
            raise Malformed("id: id must be a UUID in canonical lowercase form (8-4-4-4-12 hex digits)")
    elif name == "schema_version":
        _require_string(name, value)
        if value != "1.0":
            raise Malformed('schema_version: schema_version must be "1.0"')
    elif name in ("agent_id", "host_id"):
        _require_string(name, value)
        if not 1 <= _utf8_length(value) <= 256:
            raise Malformed("%s: %s must be 1 to 256 bytes of UTF-8" % (name, name))
        if _has_control_character(value):
            raise Malformed("%s: %s must not contain control characters" % (name, name))
    elif name in _MAX_BYTES:
        _require_string(name, value)
        if _utf8_length(value) > _MAX_BYTES[name]:
            raise Malformed("%s: %s must be at most %d bytes" % (name, name, _MAX_BYTES[name]))
    elif name == "action_type":
        _require_string(name, value)
        if not _ACTION_TYPE.fullmatch(value):
            raise Malformed("action_type: action_type must match [A-Z][A-Z0-9_]{0,63}")
    elif name == "action_status":
        _require_string(name, value)
        if value not in _STATUSES:
            raise Malformed("action_status: must be one of success, error, timeout, cancelled")
    elif name in ("timestamp", "received_at"):
        _require_string(name, value)
        problem = rfc3339_problem(value)
        if problem:
            raise Malformed("%s: %s" % (name, problem))
    elif name == "duration_ms":
        integer = _exact_integer(value)
        if integer is None or integer < 0:
            raise Malformed("duration_ms: must be an integer from 0 to 2^53-1")
    elif name in ("sequence", "host_seq"):
        integer = _exact_integer(value)
        if integer is None or integer < 1:
            raise Malformed("%s: must be an integer from 1 to 2^53-1" % name)
    elif name in ("prev_hash", "hash"):
        _require_string(name, value)
        if not _HEX64.fullmatch(value):
            raise Malformed("%s: %s must be 64 lowercase hex digits" % (name, name))
    elif name == "labels":
        if not isinstance(value, dict):
            raise Malformed("labels: labels must be an object of strings")
        if len(value) > 64:
            raise Malformed("labels: labels has %d members; at most 64 are allowed" % len(value))
        for label, text in value.items():
            if _utf8_length(label) > 128:
                raise Malformed("labels.%s: label names are at most 128 bytes" % label)
            if not isinstance(text, str):
                raise Malformed("labels.%s: label values must be strings" % label)
            if _utf8_length(text) > 1024:
                raise Malformed("labels.%s: label values are at most 1024 bytes" % label)


def validate_stored(record):
    """The fields of a stored record that are present (a top-level null counts as absent)."""
    if not isinstance(record, dict):
        raise Malformed("a record must be a JSON object")
    present = {}
    for name, value in record.items():
        if name not in FIELDS:
            raise Malformed('%s: unknown field "%s"' % (name, name))
        if value is None:
            continue
        check_field(name, value)
        present[name] = value
    if "agent_id" not in present:
        raise Malformed("agent_id: agent_id is required")
    for name in STORED_REQUIRED:
        if name not in present:
            raise Malformed("%s: %s is required in a stored record" % (name, name))
    return present


# --------------------------------------------------------------------------
# Verification (FORMAT.md §4)
# --------------------------------------------------------------------------

class RecordFailure(Exception):
    def __init__(self, reason, message, fields=None):
        Exception.__init__(self, message)
        self.reason = reason
        self.message = message
        self.fields = fields   # known once the record is well formed


def read_record(line):
    """Checks one line on its own: well formed, canonical, its hash. Returns its fields."""
    try:
        value = parse_ijson(line)
        fields = validate_stored(value)
    except Malformed as error:
        raise RecordFailure("malformed", "malformed: %s" % error)
    if canonicalize(value) != line:
        raise RecordFailure("not_canonical", "not canonical: the line is not the RFC 8785 form of its JSON", fields)
    unhashed = {name: member for name, member in value.items() if name != "hash"}
    # hash = lowercase hex SHA-256( UTF-8( JCS(record without "hash") ) )
    computed = hashlib.sha256(canonicalize(unhashed)).hexdigest()
    if computed != fields["hash"]:
        raise RecordFailure("hash_mismatch", "hash mismatch: recorded %s, computed %s" % (fields["hash"], computed),
                            fields)
    return fields


class Verifier:
    """Streaming export verifier: one head per chain and one counter per host."""

    def __init__(self, complete=False):
        self.complete = complete
        self.chains = {}       # (host_id, agent_id) -> (sequence, hash)
        self.hosts = {}        # host_id -> last host_seq
        self.partial = []
        self.records = 0
        self.lines = 0
        self.failure = None

    def fail(self, line, reason, message, fields=None):
        if self.failure is not None:
            return False
        failure = {"line": line, "reason": reason, "message": message}
        if fields is not None:
            failure.update({"host_id": fields["host_id"], "agent_id": fields["agent_id"],
                            "sequence": int(fields["sequence"]), "id": fields["id"]})
        self.failure = failure
        return False

    def consume(self, line):
        """Checks the next line (without its newline). False once a record is broken."""
        if self.failure is not None:
            return False
        self.lines += 1
        try:
            fields = read_record(line)
        except RecordFailure as error:
            return self.fail(self.lines, error.reason, error.message, error.fields)
        host, agent = fields["host_id"], fields["agent_id"]
        sequence, host_seq = int(fields["sequence"]), int(fields["host_seq"])
        prev_hash, own_hash = fields["prev_hash"], fields["hash"]
        key = (host, agent)
        head = self.chains.get(key)
        if head is not None:
            head_sequence, head_hash = head
            if sequence <= head_sequence:
                return self.fail(self.lines, "duplicate_sequence", "sequence %d after %d: already seen or out of order"
                                 % (sequence, head_sequence), fields)
            if sequence > head_sequence + 1:
                return self.fail(self.lines, "sequence_gap", "sequence %d follows %d; %d record(s) missing"
                                 % (sequence, head_sequence, sequence - head_sequence - 1), fields)
            if prev_hash != head_hash:
                return self.fail(self.lines, "broken_link", "prev_hash %s is not the hash of sequence %d (%s)"
                                 % (prev_hash, head_sequence, head_hash), fields)
        elif sequence == 1:
            if prev_hash != ZERO_HASH:
                return self.fail(self.lines, "broken_link", "sequence 1 must have prev_hash of 64 zeros", fields)
        else:
            # A partial chain: valid from its first prev_hash on, not from genesis.
            self.partial.append({"host_id": host, "agent_id": agent, "first_sequence": sequence,
                                 "anchor": prev_hash})
        last = self.hosts.get(host)
        if last is not None and host_seq <= last:
            return self.fail(self.lines, "host_gap", "host_seq %d does not increase (previous %d)"
                             % (host_seq, last), fields)
        if self.complete:
            expected = (last or 0) + 1
            if host_seq != expected:
                return self.fail(self.lines, "host_gap", "host_seq %d where %d was expected; %d record(s) of host %s missing"
                                 % (host_seq, expected, host_seq - expected, host), fields)
        self.chains[key] = (sequence, own_hash)
        self.hosts[host] = host_seq
        self.records += 1
        return True

    def report(self):
        report = {"chains": len(self.chains), "hosts": len(self.hosts), "partial_chains": list(self.partial),
                  "records": self.records, "valid": self.failure is None}
        if self.failure is not None:
            report["failure"] = dict(self.failure)
        return report


def verify_stream(stream, verifier, progress=False):
    started = last_progress = time.monotonic()
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        if line.endswith(b"\n"):
            content = line[:-1]
            if len(content) > MAX_LINE_BYTES:
                verifier.fail(verifier.lines + 1, "malformed", "line longer than the 1 MiB record limit")
                return
            if not verifier.consume(content):
                return
        elif len(line) > MAX_LINE_BYTES:
            verifier.fail(verifier.lines + 1, "malformed", "line longer than the 1 MiB record limit")
            return
        else:
            verifier.fail(verifier.lines + 1, "malformed", "the last line has no terminating newline")
            return
        if progress and time.monotonic() - last_progress >= 1:
            last_progress = time.monotonic()
            rate = verifier.records / (last_progress - started)
            sys.stderr.write("ledger_verify: %d records, %d records/s\n" % (verifier.records, rate))


def text_report(report):
    lines = []
    failure = report.get("failure")
    if failure is not None:
        text = "line %d: %s" % (failure["line"], failure["reason"])
        if "host_id" in failure:
            text += " chain %s/%s sequence %d id %s" % (failure["host_id"], failure["agent_id"],
                                                         failure["sequence"], failure["id"])
        lines.append("BROKEN %s: %s" % (text, failure["message"]))
        lines.append("verified before the break: %d records in %d chains" % (report["records"], report["chains"]))
    else:
        lines.append("OK %d records, %d chains, %d hosts verified"
                     % (report["records"], report["chains"], report["hosts"]))
    for chain in report["partial_chains"]:
        lines.append("partial chain %s/%s starts at sequence %d, anchored at prev_hash %s "
                     "(valid from there on, not from genesis)"
                     % (chain["host_id"], chain["agent_id"], chain["first_sequence"], chain["anchor"]))
    return "\n".join(lines)


def main(arguments):
    path = None
    complete = as_json = quiet = False
    for argument in arguments:
        if argument == "--complete":
            complete = True
        elif argument == "--json":
            as_json = True
        elif argument in ("--quiet", "-q"):
            quiet = True
        elif argument in ("-h", "--help"):
            print(USAGE)
            return 0
        elif (argument.startswith("--") or path is not None):
            sys.stderr.write("ledger_verify: unexpected argument %s\n%s\n" % (argument, USAGE))
            return 2
        else:
            path = argument
    if path is None:
        sys.stderr.write("ledger_verify: missing FILE (use - for standard input)\n%s\n" % USAGE)
        return 2
    verifier = Verifier(complete=complete)
    try:
        if path == "-":
            verify_stream(sys.stdin.buffer, verifier, progress=not quiet and sys.stderr.isatty())
        else:
            with open(path, "rb") as stream:
                verify_stream(stream, verifier, progress=not quiet and sys.stderr.isatty())
    except OSError as error:
        sys.stderr.write("ledger_verify: cannot read %s: %s\n" % (path, os.strerror(error.errno or 0)))
        return 2
    report = verifier.report()
    if not quiet:
        out = canonicalize(report) if as_json else text_report(report).encode("utf-8")
        sys.stdout.buffer.write(out + b"\n")
        sys.stdout.flush()
    return 0 if report["valid"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
