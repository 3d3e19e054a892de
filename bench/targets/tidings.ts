/** Tidings (memory engine, default features) over its msgpack protocol on /v1/ws. */
import { encodeFrame, decodeFrame, PROTOCOL_VERSIONS } from '../../src/protocol/index.js';
import { RawWs } from '../lib/raw-socket.js';
import { startNodeServer } from './node-server.js';
import { packageVersion } from './versions.js';
import type { ClientAdapter, Target } from './types.js';

export const BENCH_CACHE = 'bench';

const client: ClientAdapter = {
  connect(info, { topics, token }, hooks) {
    let settle!: { resolve: () => void; reject: (e: Error) => void };
    const ready = new Promise<void>((resolve, reject) => { settle = { resolve, reject }; });
    let isReady = false;
    let acks = topics.length;
    let nextId = 1;
    const ws: RawWs = new RawWs(info.host, info.port, '/v1/ws', {
      onOpen() { ws.sendFrame(encodeFrame({ t: 'hello', id: nextId++, versions: [...PROTOCOL_VERSIONS], token })); },
      onData(buf, s, e) {
        // An item frame is an array (fixarray 97 or 98) starting with the string "i" (a1 69).
        if ((buf[s] === 0x97 || buf[s] === 0x98) && buf[s + 1] === 0xa1 && buf[s + 2] === 0x69) return hooks.onItem(buf, s, e);
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

export const tidings: Target = {
  name: 'tidings',
  describe: 'Tidings, memory engine, msgpack over WebSocket, token verified per connection',
  unavailable: () => undefined,
  version: () => `tidings ${packageVersion('tidings') === 'unknown' ? '0.1.0' : packageVersion('tidings')} (uWS.js ${packageVersion('uWebSockets.js')}, jose ${packageVersion('jose')}, msgpackr ${packageVersion('msgpackr')})`,
  // The flags `tidings serve` runs with (src/main.ts shebang, `npm start`).
  start: (options) => startNodeServer('tidings-server.ts', 'tidings', options, { BENCH_SIGNING_KEY: options.signingKey ?? '' }, ['--max-semi-space-size=4']),
  client,
};
