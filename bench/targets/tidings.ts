/** Tidings (memory engine, default features) over its msgpack protocol on /v1/ws. */
import { encodeFrame, decodeFrame, PROTOCOL_VERSIONS } from '../../src/protocol/index.js';
import { Unpackr } from 'msgpackr';
import { MAGIC } from '../lib/payload.js';
import { openWs, type WsClient } from '../lib/raw-socket.js';
import { startNodeServer } from './node-server.js';
import { packageVersion } from './versions.js';
import type { ClientAdapter, Target } from './types.js';

export const BENCH_CACHE = 'bench';

/** How an application decodes (the SDK's codec options): plain maps, binary as Uint8Array. */
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

/** Items in `buf[s, e)` without decoding: an item frame (array, tag "i") or a batch frame (array,
 * tag "b", then one element per item). Returns -1 for a frame that is neither. */
function rawItems(buf: Buffer, s: number, e: number, onItem: (buf: Buffer, start: number, end: number) => void): number {
  const b0 = buf[s]!;
  let count: number;
  let h: number;
  if ((b0 & 0xf0) === 0x90) { count = b0 & 0x0f; h = s + 1; } else if (b0 === 0xdc) { count = buf.readUInt16BE(s + 1); h = s + 3; } else return -1;
  if (buf[h] !== 0xa1) return -1;
  if (buf[h + 1] === 0x69) { onItem(buf, s, e); return 1; } // "i"
  if (buf[h + 1] !== 0x62) return -1; // "b": every element is an item here; each holds one marker
  let pos = h + 2;
  for (let i = 1; i < count; i++) {
    const at = buf.indexOf(MAGIC, pos);
    if (at < 0 || at >= e) break;
    onItem(buf, at, e);
    pos = at + MAGIC.length;
  }
  return count - 1;
}

/** Items of a decoded frame (msgpackr): an item array, or a batch of them. */
function decodedItems(f: unknown, onItem: (buf: Buffer, start: number, end: number) => void): boolean {
  if (!Array.isArray(f)) return false;
  if (f[0] === 'i') { const v = f[3] as Buffer; onItem(v, 0, v.length); return true; }
  if (f[0] !== 'b') return false;
  for (let i = 1; i < f.length; i++) { const v = (f[i] as unknown[])[3] as Buffer; onItem(v, 0, v.length); }
  return true;
}

const client: ClientAdapter = {
  connect(info, { topics, token, single }, hooks) {
    let settle!: { resolve: () => void; reject: (e: Error) => void };
    const ready = new Promise<void>((resolve, reject) => { settle = { resolve, reject }; });
    let isReady = false;
    let acks = topics.length;
    let nextId = 1;
    // Subscribers ask for batch frames (several items per message under load); a server without
    // them ignores the field and sends one item per message.
    const ws: WsClient = openWs(single && topics.length === 0, info.host, info.port, '/v1/ws', {
      onOpen() { ws.sendFrame(encodeFrame({ t: 'hello', id: nextId++, versions: [...PROTOCOL_VERSIONS], token, batch: true })); },
      onData(buf, s, e) {
        if (single && isReady) {
          // As an application would: decode every message, then take the items out.
          if (decodedItems(unpackr.unpack(buf.subarray(s, e)), hooks.onItem)) return;
        } else if (rawItems(buf, s, e, hooks.onItem) >= 0) return;
        // Other frames are maps (msgpackr writes map16, de 00 NN; fixmap 8N also allowed), then key "t".
        const h = s + (buf[s] === 0xde ? 3 : 1);
        // Publish acks ("ok") and heartbeats ("hb") after setup carry nothing the bench needs.
        if (isReady && buf[h + 2] === 0xa2 && (buf[h + 3] === 0x6f || buf[h + 3] === 0x68)) return;
        const f = decodeFrame(buf.subarray(s, e));
        if (f['t'] === 'err') {
          const err = new Error(`tidings: ${JSON.stringify(f['e'])}`);
          if (!isReady) settle.reject(err);
          else hooks.onClose(err.message);
        } else if (f['t'] === 'ok' && !isReady) {
          if (f['id'] === 1) {
            ws.cork();
            for (const topic of topics) ws.sendFrame(encodeFrame({ t: 'sub', id: nextId++, cache: BENCH_CACHE, topic }));
            ws.uncork();
            if (topics.length === 0) { isReady = true; settle.resolve(); }
          } else if (--acks === 0) { isReady = true; settle.resolve(); }
        }
      },
      onClose(reason) { if (!isReady) settle.reject(new Error(reason)); hooks.onClose(reason); },
    });
    return {
      ready,
      publish(topic, payload) { ws.sendFrame(encodeFrame({ t: 'pub', id: nextId++, cache: BENCH_CACHE, topic, value: payload })); },
      cork: () => ws.cork(),
      uncork: () => ws.uncork(),
      close: () => ws.close(),
    };
  },
};

/** The Node flags `tidings serve` runs with (src/main.ts shebang, `npm start`; a unit test keeps
 * the three alike). */
export const TIDINGS_NODE_FLAGS = ['--max-semi-space-size=4', '--interrupt-budget=8000'];

export const tidings: Target = {
  name: 'tidings',
  describe: 'Tidings, memory engine, msgpack over WebSocket, token verified per connection',
  unavailable: () => undefined,
  version: () => `tidings ${packageVersion('tidings') === 'unknown' ? '0.1.0' : packageVersion('tidings')} (uWS.js ${packageVersion('uWebSockets.js')}, jose ${packageVersion('jose')}, msgpackr ${packageVersion('msgpackr')})`,
  start: (options) => startNodeServer('tidings-server.ts', 'tidings', options, { BENCH_SIGNING_KEY: options.signingKey ?? '' }, TIDINGS_NODE_FLAGS),
  client,
};
