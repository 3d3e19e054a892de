/** Every micro-benchmark; prints a table, or JSON with --json (used by bench/run.ts).
 *   node --import tsx bench/micro/all.ts [--json] [--ms 1000] */
import { parseArgs } from 'node:util';
import { codecMicro } from './codec.js';
import { permissionsMicro } from './permissions.js';
import { tokensMicro } from './tokens.js';
import { topicWindowMicro } from './topic-window.js';
import { formatMicro, type MicroResult } from './harness.js';

export async function allMicro(ms: number): Promise<MicroResult[]> {
  return [...await codecMicro(ms), ...await permissionsMicro(ms), ...await tokensMicro(ms), ...await topicWindowMicro(ms)];
}

const { values } = parseArgs({ options: { json: { type: 'boolean' }, ms: { type: 'string' } } });
const results = await allMicro(Number(values.ms ?? 1000));
process.stdout.write(values.json ? JSON.stringify(results) + '\n' : formatMicro(results) + '\n');
