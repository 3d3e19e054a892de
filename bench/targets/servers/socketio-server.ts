/** socket.io 4, WebSocket transport only, rooms as topics: `sub` (acked) joins a room, `pub`
 * broadcasts `m` with the payload to the room (encoded once per broadcast by socket.io). */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { announce, portArg } from './lifecycle.js';

const http = createServer();
const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false, serveClient: false, maxHttpBufferSize: 1024 * 1024 });
io.on('connection', (socket) => {
  socket.on('sub', (topic: string, ack?: () => void) => {
    void socket.join(topic);
    ack?.();
  });
  socket.on('pub', (topic: string, payload: string) => {
    io.to(topic).emit('m', payload);
  });
});
http.listen(portArg(), '127.0.0.1', () => {
  announce((http.address() as { port: number }).port, () => new Promise<void>((r) => { io.close(() => r()); }));
});
