/** A chat participant from the command line: it gets a scoped token from the API key (the job of
 * your backend), shows the room's history, sends each message argument to `<room>-input`, and prints
 * what the moderator made of it: the message as published in `<room>`, or the rejection reason.
 * Same cache and rooms as the demo page: what it sends shows up in the browser, and back.
 *
 *   TIDINGS_URL=http://127.0.0.1:8080 TIDINGS_API_KEY=<key> node --import tsx examples/chat.ts --room lobby --name alice "hello" "a darn good day"
 *
 * Flags: --url, --api-key, --cache (default chat), --room (default lobby), --name (default guest),
 * --wait SECONDS (how long to wait for the moderator's answer to each message, default 5).
 */
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { AuthClient, ExpiresIn, ListFetch, PermissionScopes, TopicPublish, connect, type WebSocketConstructor } from '../src/client/index.js';

const USAGE = `usage: node --import tsx examples/chat.ts [--room lobby] [--name guest] [MESSAGE...]
  Shows the room's history, sends each MESSAGE to <room>-input and prints what the moderator made of it.
  TIDINGS_URL (or --url): the broker, default http://127.0.0.1:8080
  TIDINGS_API_KEY (or --api-key): an API key to mint the participant's token (\`npm start\` prints one)
  --cache (default chat), --room (default lobby), --name (default guest),
  --wait SECONDS: how long to wait for the moderator's answer to each message (default 5)
`;
let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      url: { type: 'string' }, 'api-key': { type: 'string' }, cache: { type: 'string' }, room: { type: 'string' }, name: { type: 'string' },
      wait: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
} catch (err) {
  // parseArgs's own error (an unknown flag, a flag without its value) is the whole story.
  process.stderr.write(`${(err as Error).message} (--help lists the flags)\n`);
  process.exit(2);
}
const { values, positionals } = parsed;
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const url = values.url ?? process.env['TIDINGS_URL'] ?? 'http://127.0.0.1:8080';
const apiKey = values['api-key'] ?? process.env['TIDINGS_API_KEY'];
const cache = values.cache ?? 'chat';
const room = values.room ?? 'lobby';
const name = values.name ?? 'guest';
const waitMs = Number(values.wait ?? 5) * 1000;
if (!apiKey) {
  process.stderr.write('set TIDINGS_API_KEY (or --api-key); `npm start` prints an admin API key\n');
  process.exit(2);
}
if (!(waitMs > 0)) {
  process.stderr.write('--wait must be a positive number of seconds\n');
  process.exit(2);
}

/** The demo page's visitors have tokenIds `<name>#<6 hex>`; show the name. */
const nameOf = (tokenId: string | undefined) => tokenId?.replace(/#[0-9a-f]{6}$/, '') ?? '?';

const minted = await new AuthClient({ url, apiKey }).generateDisposableToken(PermissionScopes.chatParticipant(cache, room), ExpiresIn.minutes(10), { tokenId: name });
if (minted.type === 'Error') {
  process.stderr.write(`cannot get a token: ${minted.toString()}\n`);
  process.exit(1);
}
const sdk = connect({ url, token: minted.authToken, webSocket: WebSocket as unknown as WebSocketConstructor });

const history = await sdk.cache.listFetch(cache, room, { withMeta: true });
let resumeFrom: { page: number; seq: number } | undefined;
if (history instanceof ListFetch.Hit) {
  for (const item of history.items ?? []) {
    process.stdout.write(`history <${nameOf(item.tokenId)}> ${String(item.value)}\n`);
    if (item.page !== undefined && item.seq !== undefined) resumeFrom = { page: item.page, seq: item.seq };
  }
}

// Messages go one at a time; each is settled once: published in the room (it comes back on the
// subscription, stamped with our name) or rejected (the server tells only us, with the reason).
let settle: (() => void) | undefined;
await sdk.topics.subscribe(cache, room, {
  ...(resumeFrom ? { resumeFrom } : {}),
  onItem: (item) => {
    process.stdout.write(`<${nameOf(item.tokenId())}> ${item.valueString()}\n`);
    if (item.tokenId() === name) settle?.();
  },
});
sdk.connection.onPush((frame) => {
  if (frame['t'] !== 'rejected') return;
  process.stdout.write(`rejected: ${frame['reason'] as string}\n`);
  settle?.();
});

let exitCode = 0;
for (const text of positionals) {
  const settled = new Promise<boolean>((resolve) => { settle = () => resolve(true); });
  const sent = await sdk.topics.publish(cache, `${room}-input`, text);
  if (sent instanceof TopicPublish.Error) {
    process.stdout.write(`not sent: ${sent.toString()}\n`);
    exitCode = 1;
    continue;
  }
  let timer: NodeJS.Timeout | undefined;
  const answered = await Promise.race([settled, new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), waitMs); })]);
  // Cleared, or the process would stay alive until it fires.
  clearTimeout(timer);
  if (!answered) {
    process.stdout.write(`no moderator answered within ${waitMs / 1000} s: is one running for cache "${cache}"? (\`npm start\` runs one; or examples/moderator.ts)\n`);
    exitCode = 1;
    break;
  }
}
sdk.close();
process.exitCode = exitCode;
