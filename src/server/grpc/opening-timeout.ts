/** Closes a gRPC connection that does not open HTTP/2 in time. grpc-js (via Node's http2) would hold
 * a socket that never sends its preface for ever, and each one takes a slot of
 * momento.maxConnections: enough silent sockets and nobody else can call. */
import type { Socket } from 'node:net';

/** The client connection preface (RFC 9113 §3.4): 24 octets, then a SETTINGS frame, whose header
 * alone is 9 octets. Fewer bytes than this and the client has not opened HTTP/2. Past it, a client
 * that stalls mid-frame has a session, and the idle timeout (momento.idleTimeoutMs) closes it. */
const OPENING_BYTES = 24 + 9;

export function closeUnlessOpened(socket: Socket, timeoutMs: number): void {
  // Checked once at the deadline: bytesRead counts what http2 read from the socket's handle.
  const timer = setTimeout(() => { if (socket.bytesRead < OPENING_BYTES) socket.destroy(); }, timeoutMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
