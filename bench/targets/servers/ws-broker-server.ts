/** A plain `ws` broker: topic -> set of sockets, same tiny protocol as bare-uws-server.ts. */
import { WebSocketServer, type WebSocket } from 'ws';
import { announce, portArg } from './lifecycle.js';

const S = 0x73;
const P = 0x70;
const topics = new Map<string, Set<WebSocket>>();
const wss = new WebSocketServer({ host: '127.0.0.1', port: portArg(), path: '/ws', perMessageDeflate: false, clientTracking: false, maxPayload: 1024 * 1024 });
wss.on('connection', (ws) => {
  const mine = new Set<string>();
  ws.on('message', (data: Buffer) => {
    if (data[0] === S) {
      const topic = data.toString('latin1', 1);
      let subs = topics.get(topic);
      if (!subs) topics.set(topic, (subs = new Set()));
      subs.add(ws);
      mine.add(topic);
      ws.send('s');
    } else if (data[0] === P) {
      const topicEnd = 2 + data[1]!;
      const subs = topics.get(data.toString('latin1', 2, topicEnd));
      if (!subs) return;
      const payload = data.subarray(topicEnd);
      for (const sub of subs) sub.send(payload, { binary: true });
    }
  });
  ws.on('close', () => {
    for (const topic of mine) topics.get(topic)?.delete(ws);
  });
});
wss.on('listening', () => {
  announce((wss.address() as { port: number }).port, () => new Promise<void>((r) => wss.close(() => r())));
});
