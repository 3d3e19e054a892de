/** A runnable moderator for every chat of a cache (docs/moderation.md): a word filter (listed words
 * are masked) plus a length limit (longer messages are rejected, and the sender is told why).
 *
 *   tidings serve --dev                                   # prints an admin API key
 *   TIDINGS_URL=ws://127.0.0.1:8080/v1/ws TIDINGS_API_KEY=<key> node --import tsx examples/moderator.ts
 *
 * Flags override the environment: --url, --api-key, --cache (default chat), --group (default
 * moderators), --max-length (default 500), --words (comma-separated; default a tiny sample list),
 * --quiet. Start several to share the load; stop one and the others take over its items. */
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { Moderator, type ModerationDecision, type ModerationInput } from '../src/client/moderator.js';
import type { WebSocketConstructor } from '../src/client/options.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string' }, 'api-key': { type: 'string' }, cache: { type: 'string' }, group: { type: 'string' },
    'max-length': { type: 'string' }, words: { type: 'string' }, quiet: { type: 'boolean' },
  },
});
const url = values.url ?? process.env['TIDINGS_URL'] ?? 'ws://127.0.0.1:8080/v1/ws';
const apiKey = values['api-key'] ?? process.env['TIDINGS_API_KEY'];
const cache = values.cache ?? process.env['TIDINGS_CACHE'] ?? 'chat';
const group = values.group ?? 'moderators';
const maxLength = Number(values['max-length'] ?? 500);
const words = (values.words ?? 'darn,heck,frick').split(',').map((w) => w.trim().toLowerCase()).filter(Boolean);
const quiet = values.quiet ?? false;
if (!apiKey) {
  process.stderr.write('set TIDINGS_API_KEY (or --api-key) to a key with PermissionScopes.moderator(cache)\n');
  process.exit(2);
}

const banned = words.length > 0 ? new RegExp(`\\b(${words.map(escapeRegExp).join('|')})\\b`, 'gi') : undefined;

/** The policy: text only, trimmed, not empty, at most maxLength characters, listed words masked. */
function moderate(input: ModerationInput): ModerationDecision {
  if (typeof input.value !== 'string') return { reject: 'only text messages are allowed' };
  const text = input.value.trim().replace(/\s+/g, ' ');
  if (text.length === 0) return { reject: 'empty message' };
  if ([...text].length > maxLength) return { reject: `messages are at most ${maxLength} characters` };
  const clean = banned ? text.replace(banned, (w) => '*'.repeat(w.length)) : text;
  if (!quiet) process.stdout.write(`${input.chat} <${input.tokenId ?? 'anonymous'}> ${clean}${clean !== text ? '  (filtered)' : ''}\n`);
  return { accept: clean === input.value ? true : clean };
}

const moderator = await Moderator.connect(
  { url, token: apiKey, webSocket: WebSocket as unknown as WebSocketConstructor, clientName: 'tidings-example-moderator' },
  {
    cache, group, moderate,
    onError: (err, input) => process.stderr.write(`moderation error${input ? ` on ${input.topic} #${input.seq}` : ''}: ${(err as Error).message}\n`),
  },
);
process.stdout.write(`joined group ${group} on ${cache} *-input (max ${maxLength} chars, ${words.length} filtered words)\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await moderator.stop();
  const { accepted, rejected, failed } = moderator.stats;
  if (!quiet) process.stdout.write(`stopped: ${accepted} accepted, ${rejected} rejected, ${failed} failed\n`);
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
