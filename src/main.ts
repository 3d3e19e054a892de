#!/usr/bin/env -S node --max-semi-space-size=4 --interrupt-budget=8000
/** The `tidings` command: the process around src/cli/main.ts (serve, token, api-key, signing-key, revoke).
 * Node flags (docs/configuration.md, "Node flags"; `npm start` passes the same):
 * - a 4 MB young-generation semi-space (default 16 MB). A broker's long-lived state is
 *   per-connection objects; with the default, V8 keeps up to ~48 MB of young generation committed
 *   after a connect burst (about 2 KB per connection at 10,000). Measured in bench/: RSS growth per
 *   idle connection 3.85 → 1.89 KB; 2 MB saved no more memory and cost fan-out CPU under full load.
 * - an interrupt budget of 8000 (default 67584), so code that runs once per batch rather than per
 *   item (the Redis engine's script calls and replies, ioredis) reaches the optimizing compiler:
 *   with the default it stayed in the baseline tier even after 30 s under load. */
import { runCli } from './cli/main.js';

runCli({ argv: process.argv.slice(2), env: process.env, stdout: process.stdout, stderr: process.stderr })
  .then((code) => { process.exitCode = code; });
