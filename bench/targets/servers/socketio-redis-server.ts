/** socket.io 4 with its Redis adapter (@socket.io/redis-adapter, ioredis clients): one node of a
 * deployment whose broadcasts go through Redis pub/sub to every node. The same rooms-as-topics
 * protocol as socketio-server.ts; `pub` takes an optional ack (sent once the broadcast is handed to
 * the adapter: socket.io has no acknowledged publish through Redis). BENCH_REDIS_URL names Redis. */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { announce, portArg } from './lifecycle.js';

const url = process.env['BENCH_REDIS_URL'];
if (!url) throw new Error('BENCH_REDIS_URL is required');
const pubClient = new Redis(url);
const subClient = pubClient.duplicate();
const http = createServer();
const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false, serveClient: false, maxHttpBufferSize: 1024 * 1024, adapter: createAdapter(pubClient, subClient) });
io.on('connection', (socket) => {
  socket.on('sub', (topic: string, ack?: () => void) => {
    void socket.join(topic);
    ack?.();
  });
  socket.on('pub', (topic: string, payload: string, ack?: () => void) => {
    io.to(topic).emit('m', payload);
    if (typeof ack === 'function') ack();
  });
});
http.listen(portArg(), '127.0.0.1', () => {
  announce((http.address() as { port: number }).port, () => new Promise<void>((r) => { io.close(() => { pubClient.disconnect(); subClient.disconnect(); r(); }); }));
});
