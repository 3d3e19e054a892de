/** socket.io 4 over its WebSocket transport; topics are rooms. Spoken raw (engine.io v4 text
 * packets): `40` connect, `42N["sub",topic]` acked by `43N[]`, `42["pub",topic,payload]`,
 * deliveries `42["m",payload]`, server ping `2` answered with `3`. */
import { openWs, type WsClient, WS_TEXT } from '../lib/raw-socket.js';
import { startNodeServer } from './node-server.js';
import { packageVersion } from './versions.js';
import type { ClientAdapter, Target } from './types.js';

const client: ClientAdapter = {
  connect(info, { topics, single }, hooks) {
    let settle!: { resolve: () => void; reject: (e: Error) => void };
    const ready = new Promise<void>((resolve, reject) => { settle = { resolve, reject }; });
    let isReady = false;
    let acks = topics.length;
    const ws: WsClient = openWs(single && topics.length === 0, info.host, info.port, '/socket.io/?EIO=4&transport=websocket', {
      onOpen() {},
      onData(buf, s, e, opcode) {
        if (opcode !== WS_TEXT) return;
        const c0 = buf[s];
        const c1 = buf[s + 1];
        if (c0 === 0x34 && c1 === 0x32) { // 42: event ("m")
          if (!single) return hooks.onItem(buf, s, e);
          // As an application would: parse the event's JSON and take the payload out.
          const payload = Buffer.from((JSON.parse(buf.toString('utf8', s + 2, e)) as [string, string])[1], 'latin1');
          return hooks.onItem(payload, 0, payload.length);
        }
        if (c0 === 0x32 && e - s === 1) return ws.sendText('3'); // ping -> pong
        if (c0 === 0x30) return ws.sendText('40'); // engine.io open -> socket.io connect
        if (c0 === 0x34 && c1 === 0x30) { // 40: connected
          ws.cork();
          topics.forEach((topic, i) => ws.sendText(`42${i}${JSON.stringify(['sub', topic])}`));
          ws.uncork();
          if (topics.length === 0) { isReady = true; settle.resolve(); }
          return;
        }
        if (c0 === 0x34 && c1 === 0x33) { if (!isReady && --acks === 0) { isReady = true; settle.resolve(); } return; }
        if (c0 === 0x34 && c1 === 0x34) settle.reject(new Error(`socket.io connect error: ${buf.toString('utf8', s, e)}`));
      },
      onClose(reason) { if (!isReady) settle.reject(new Error(reason)); hooks.onClose(reason); },
    });
    return {
      ready,
      publish(topic, payload) { ws.sendText(`42["pub","${topic}","${payload.toString('latin1')}"]`); },
      cork: () => ws.cork(),
      uncork: () => ws.uncork(),
      close: () => ws.close(),
    };
  },
};

export const socketio: Target = {
  name: 'socket.io',
  describe: 'socket.io 4 (ws transport only), rooms as topics, broadcast encoded once',
  unavailable: () => undefined,
  version: () => `socket.io ${packageVersion('socket.io')} (engine.io ${packageVersion('engine.io')}, ws ${packageVersion('ws')})`,
  start: (options) => startNodeServer('socketio-server.ts', 'socket.io', options),
  client,
};
