#!/usr/bin/env node
// Golden vectors for ECMAScriptNumber.write: node's String(x) is ECMA-262 Number::toString,
// the form RFC 8785 §3.2.2.3 prescribes. Deterministic (fixed seed), so rerunning it with the
// same arguments reproduces Tests/LedgerCoreTests/Vectors/numbers.txt byte for byte:
//   node contrib/dev/gen-number-vectors.js 20000 > Tests/LedgerCoreTests/Vectors/numbers.txt
// Output: one case a line, "<IEEE-754 bits as 16 lowercase hex digits> <String(x)>".
'use strict';
const randomCount = Number(process.argv[2] ?? 20000);
const view = new DataView(new ArrayBuffer(8));
const toDouble = (bits) => { view.setBigUint64(0, bits); return view.getFloat64(0); };
const toBits = (x) => { view.setFloat64(0, x); return view.getBigUint64(0); };
const hex = (bits) => bits.toString(16).padStart(16, '0');
const mask = (1n << 64n) - 1n;
let state = 0x4c6564676572n; // "Ledger"
function next() { // SplitMix64
  state = (state + 0x9e3779b97f4a7c15n) & mask;
  let z = state;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & mask;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & mask;
  return z ^ (z >> 31n);
}
const seen = new Set();
const lines = [];
function add(bits) {
  bits &= mask;
  if (((bits >> 52n) & 0x7ffn) === 0x7ffn || seen.has(bits)) return; // finite values only, once
  seen.add(bits);
  lines.push(`${hex(bits)} ${String(toDouble(bits))}`);
}
const addWithNeighbours = (x, spread) => {
  const b = toBits(x);
  for (let d = -BigInt(spread); d <= BigInt(spread); d++) add(b + d);
};
// RFC 8785 Appendix B and other edges.
for (const b of [0x0n, 0x8000000000000000n, 0x1n, 0x8000000000000001n, 0x7fefffffffffffffn,
  0xffefffffffffffffn, 0x4340000000000000n, 0xc340000000000000n, 0x4430000000000000n,
  0x44b52d02c7e14af5n, 0x44b52d02c7e14af6n, 0x44b52d02c7e14af7n, 0x444b1ae4d6e2ef4en,
  0x444b1ae4d6e2ef4fn, 0x444b1ae4d6e2ef50n, 0x3eb0c6f7a0b5ed8cn, 0x3eb0c6f7a0b5ed8dn,
  0x41b3de4355555553n, 0x41b3de4355555556n, 0x41b3de4355555555n, 0x000fffffffffffffn,
  0x0010000000000000n, 0x3ff0000000000000n, 0x3fb999999999999an, 0x3fd3333333333334n]) add(b);
// Around the layout switches: 1e21 and 1e-7 (and 1e-6), with neighbours.
for (const x of [1e21, 1e-7, 1e-6, 9.999999999999999e20, 1.5e-7, 123456789012345680000]) addWithNeighbours(x, 8);
// Powers of ten and two, with neighbours.
for (let e = -324; e <= 308; e++) addWithNeighbours(Number(`1e${e}`), 2);
for (let e = -1074; e <= 1023; e++) addWithNeighbours(2 ** e, 1);
// Integers near 2^53 and small subnormals.
for (let d = -20; d <= 20; d++) add(toBits(2 ** 53) + BigInt(d));
for (let b = 0n; b <= 100n; b++) { add(b); add(b | (1n << 63n)); }
// Short decimals: random significands of 1 to 17 digits and random decimal exponents.
for (let i = 0; i < randomCount / 4; i++) {
  const digits = 1 + Number(next() % 17n);
  const significand = next() % (10n ** BigInt(digits));
  const exponent = Number(next() % 640n) - 330;
  const sign = next() & 1n ? '-' : '';
  add(toBits(Number(`${sign}${significand}e${exponent}`)));
}
// Random bit patterns (non-finite ones are skipped).
for (let i = 0; i < randomCount; i++) add(next());
process.stdout.write(`# ${lines.length} cases: node ${process.version} contrib/dev/gen-number-vectors.js ${randomCount}\n`);
process.stdout.write(lines.join('\n') + '\n');
