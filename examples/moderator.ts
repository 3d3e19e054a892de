/** The chat moderator from a terminal: the same one the dev server runs for the demo page
 * (demo/moderator.ts, rules in demo/rules.ts), in the same group, so starting one here shares the
 * load with it; stop one and the others take over its items (docs/moderation.md).
 *
 *   TIDINGS_URL=http://127.0.0.1:8080 TIDINGS_API_KEY=<key> node --import tsx examples/moderator.ts
 *
 * Flags override the environment: --url, --api-key, --cache (default chat), --group (default
 * moderators), --max-length (default 280), --words (comma-separated blocked words), --quiet.
 * The key needs PermissionScopes.moderator(cache) (the dev server's admin API key has it). */
import { parseArgs } from 'node:util';
import { CHAT_CACHE, CHAT_GROUP, startChatModerator } from '../demo/moderator.js';
import { CHAT_RULES } from '../demo/rules.js';

const USAGE = `usage: node --import tsx examples/moderator.ts [--max-length 280] [--words a,b] [--quiet]
  Joins the chat's moderator group on every <room>-input topic and applies the demo's rules.
  TIDINGS_URL (or --url): the broker, default http://127.0.0.1:8080
  TIDINGS_API_KEY (or --api-key): a key with PermissionScopes.moderator(cache) (\`npm start\` prints one)
  --cache (default chat), --group (default moderators), --max-length (default 280),
  --words (comma-separated blocked words), --quiet (no line per decision)
`;
let parsed;
try {
  parsed = parseArgs({
    options: {
      url: { type: 'string' }, 'api-key': { type: 'string' }, cache: { type: 'string' }, group: { type: 'string' },
      'max-length': { type: 'string' }, words: { type: 'string' }, quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
} catch (err) {
  // parseArgs's own error (an unknown flag, a flag without its value, a stray argument) is the whole story.
  process.stderr.write(`${(err as Error).message} (--help lists the flags)\n`);
  process.exit(2);
}
const { values } = parsed;
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const url = values.url ?? process.env['TIDINGS_URL'] ?? 'http://127.0.0.1:8080';
const apiKey = values['api-key'] ?? process.env['TIDINGS_API_KEY'];
const cache = values.cache ?? CHAT_CACHE;
const group = values.group ?? CHAT_GROUP;
const maxLength = values['max-length'] !== undefined ? Number(values['max-length']) : CHAT_RULES.maxLength;
const blockedWords = values.words !== undefined
  ? values.words.split(',').map((w) => w.trim().toLowerCase()).filter(Boolean)
  : CHAT_RULES.blockedWords;
const quiet = values.quiet ?? false;
if (!apiKey) {
  process.stderr.write('set TIDINGS_API_KEY (or --api-key) to a key with PermissionScopes.moderator(cache); `npm start` prints one\n');
  process.exit(2);
}
if (!Number.isInteger(maxLength) || maxLength < 1) {
  process.stderr.write('--max-length must be a positive integer\n');
  process.exit(2);
}

// A wrong URL or a broker that is down: say so on every attempt, and give up after a few.
const MAX_ATTEMPTS = 4;
process.stdout.write(`connecting to ${url} …\n`);
let running;
try {
  running = await startChatModerator({
    url, token: apiKey, cache, group, rules: { maxLength, blockedWords },
    clientName: 'tidings-example-moderator',
    maxReconnectAttempts: MAX_ATTEMPTS,
    onStatus: (status) => {
      if (status.state === 'reconnecting') {
        process.stderr.write(`cannot reach ${url} (${status.lastClose.reason || `close ${status.lastClose.code}`}); retry ${status.attempt}/${MAX_ATTEMPTS} in ${status.inMs} ms\n`);
      }
    },
    onDecision: (input, decision) => {
      if (quiet) return;
      const verdict = 'reject' in decision ? `rejected: ${decision.reject}` : 'accepted';
      process.stdout.write(`${input.chat} <${input.tokenId ?? 'anonymous'}> ${String(input.value)}  (${verdict})\n`);
    },
    onError: (err, input) => process.stderr.write(`moderation error${input ? ` on ${input.topic} #${input.seq}` : ''}: ${(err as Error).message}\n`),
  });
} catch (err) {
  process.stderr.write(`moderator did not start: ${(err as Error).message}\n`);
  process.exit(1);
}
process.stdout.write(`joined group ${group} on ${cache} *-input (max ${maxLength} chars, ${blockedWords.length} blocked words)\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  const { moderator } = running;
  await running.stop();
  const { accepted, rejected, failed } = moderator.stats;
  if (!quiet) process.stdout.write(`stopped: ${accepted} accepted, ${rejected} rejected, ${failed} failed\n`);
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
