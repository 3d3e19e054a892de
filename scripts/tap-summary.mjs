// Turns tap's closing "# { total: N, pass: N, fail: N, ... }" line into the one line CI reads:
// "N passed, N failed" (plus skipped). A run with no summary line counts as one failure.
// Failures are listed just before it (innermost only, with their subtest path and where they
// failed) because CI shows only the tail of a long run.
import { readFileSync } from 'node:fs';

const allLines = readFileSync(process.argv[2], 'utf8').split('\n');
const MAX_LISTED = 20;
const KEPT_DIAGNOSTICS = /^(found|wanted|message|error|code|signal|timeout|expired|fileName|lineNumber):/;

const failures = [];
const subtests = []; // { indent, name, failuresBefore } of the enclosing "# Subtest:" lines
let failureCount = 0;
for (let i = 0; i < allLines.length; i++) {
  const line = allLines[i];
  const trimmed = line.trimStart();
  const indent = line.length - trimmed.length;
  const subtest = /^# Subtest: (.*)$/.exec(trimmed);
  if (subtest) {
    while (subtests.length && subtests.at(-1).indent >= indent) subtests.pop();
    subtests.push({ indent, name: subtest[1], failuresBefore: failureCount });
    continue;
  }
  if (!/^not ok \d+/.test(trimmed)) continue;
  while (subtests.length && subtests.at(-1).indent > indent) subtests.pop();
  // A subtest's own result line repeats its children's failures: list it only when none was listed.
  const own = subtests.at(-1);
  const isSubtestResult = own?.indent === indent && /# time=/.test(trimmed);
  if (isSubtestResult && failureCount > own.failuresBefore) continue;
  failureCount++;
  const diagnostic = [];
  if (allLines[i + 1]?.trim() === '---') {
    for (let j = i + 2; j < allLines.length && allLines[j].trim() !== '...'; j++) {
      const d = allLines[j].trim();
      if (KEPT_DIAGNOSTICS.test(d)) diagnostic.push(d.slice(0, 200));
    }
  }
  if (failures.length < MAX_LISTED) {
    const path = subtests.filter((s) => s.indent < indent || (isSubtestResult && s === own)).map((s) => s.name);
    failures.push(`  ${[...path, trimmed].join(' > ')}${diagnostic.length ? `\n      ${diagnostic.join('\n      ')}` : ''}`);
  }
}
if (failures.length) console.log(`failed (${failureCount}):\n${failures.join('\n')}`);

const summaries = allLines.filter((l) => /^# \{ total: \d+/.test(l.trim()));
const last = summaries.at(-1);
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
