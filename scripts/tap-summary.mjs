// Turns tap's closing "# { total: N, pass: N, fail: N, ... }" line into the one line CI reads:
// "N passed, N failed" (plus skipped). A run with no summary line counts as one failure.
import { readFileSync } from 'node:fs';

const text = readFileSync(process.argv[2], 'utf8');
const lines = text.split('\n').filter((l) => /^# \{ total: \d+/.test(l.trim()));
const last = lines.at(-1);
if (!last) {
  console.log('0 passed, 1 failed');
  process.exit(0);
}
const count = (name) => Number(new RegExp(`${name}: (\\d+)`).exec(last)?.[1] ?? 0);
const total = count('total');
const pass = count('pass');
const skip = count('skip') + count('todo');
const fail = count('fail') || total - pass - skip;
console.log(`${pass} passed, ${fail} failed, ${skip} skipped`);
