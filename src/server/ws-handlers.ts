/** uWS WebSocket behaviour: upgrade (admission: connection caps per state and per IP, subprotocol echo), open/message/close mapped
 * onto the broker. The token never travels in the URL: it arrives in the first (hello) frame. */
import type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_socket_context_t } from 'uWebSockets.js';
import uWS from 'uWebSockets.js';
import { CloseCode, SUBPROTOCOL, WS_PATH } from '../protocol/index.js';
import type { ServerConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { Broker } from '../engine/broker.js';
import type { Connection, Session } from '../engine/session.js';
import type { TransportCounters } from './transport-counters.js';
import { ConnectionAdmission, requestAddress, type PendingConnection } from './admission.js';
import { Interner } from '../lib/interner.js';
import { batchKey, type NativeBatching } from './native-batching.js';
import { WsOutbox, type HeldSocket } from './ws-outbox.js';

/** Close code uWS reports for a connection that ended without a close frame (it uses it for a
 * connection it closes at the backpressure limit too). */
const ABNORMAL_CLOSURE = 1006;

/** What uWS keeps on each socket. uWS copies these onto the socket object itself (`getUserData()`
 * returns the socket), in a property array of three slots: a fourth field would double it
 * (bench/analysis.md, "Connect, memory and history"). The rest lives in UwsConnection. */
interface SocketData { session: Session | undefined; connection: UwsConnection | undefined; ip: string }

/** What every connection of one server shares (one object, not a field each). */
interface Edge { admission: ConnectionAdmission; broker: Broker; batching: NativeBatching; outbox: WsOutbox }

/** UwsConnection's state bits, in one small integer rather than a field each. */
const CLOSED = 1;
/** Counted by admission as authenticated (its close then uncounts that). */
const AUTHENTICATED = 2;
/** The client asked for batch frames in `hello`; it attaches to the batch keys. */
const BATCH = 4;

/** The broker's view of one uWS socket: one small object with prototype methods rather than five
 * closures per connection (idle connections are most of a broker's memory; see docs/benchmarks.md). */
class UwsConnection implements Connection, PendingConnection, HeldSocket {
  private flags = 0;
  constructor(private readonly ws: WebSocket<SocketData>, private readonly edge: Edge) {}
  /** Read from the socket's own properties, which stay readable after it closed. */
  get ip(): string { return this.ws.getUserData().ip; }
  get closed(): boolean { return (this.flags & CLOSED) !== 0; }
  get isAuthenticated(): boolean { return (this.flags & AUTHENTICATED) !== 0; }
  /** uWS reported the close: the socket may no longer be used. */
  markClosed(): void {
    this.flags |= CLOSED;
    this.edge.outbox.drop(this);
  }
  /** Outside a uWS callback the frame is held (copied) and written corked with the connection's other held frames (ws-outbox.ts). */
  send(frame: Uint8Array): boolean {
    if (this.closed) return false;
    return !this.edge.outbox.sendsNow(this, frame) || this.ws.send(frame, true) !== 2;
  }
  writeHeld(frames: readonly Uint8Array[]): void {
    if (this.closed) return;
    if (frames.length === 1) { this.ws.send(frames[0]!, true); return; }
    // A send past the hard backpressure limit closes the socket (its close callback runs inside).
    this.ws.cork(() => { for (const frame of frames) if (!this.closed) this.ws.send(frame, true); });
  }
  /** The frame is used (copied into the socket, its send buffer or the outbox) before `send`
   * returns (Connection). Must become false if `send` ever keeps the caller's frame itself. */
  get sendsSynchronously(): boolean { return true; }
  bufferedAmount(): number { return this.closed ? 0 : this.ws.getBufferedAmount(); }
  // Frames held for the key go out first, to the connections attached before this one
  // (native-batching.ts): the attaching one has read them from the window, the detaching one
  // catches up from the position that counts them.
  attach(key: string): void {
    if (this.closed) return;
    this.edge.outbox.release(this);
    this.edge.batching.flush(key);
    this.ws.subscribe(this.flags & BATCH ? batchKey(key) : key);
  }
  detach(key: string): void {
    if (this.closed) return;
    this.edge.outbox.release(this);
    this.edge.batching.flush(key);
    this.ws.unsubscribe(this.flags & BATCH ? batchKey(key) : key);
  }
  acceptBatches(): boolean {
    this.flags |= BATCH;
    return true;
  }
  close(code: number, reason: string): void {
    if (this.closed) return;
    this.edge.outbox.release(this);
    this.ws.end(code, reason);
  }
  authenticated(): boolean {
    if (this.closed || !this.edge.admission.authenticate(this)) return false;
    this.flags |= AUTHENTICATED;
    return true;
  }
  /** Admission needs the slot of this connection, still awaiting hello, for a newer one. */
  evict(): void {
    const session = this.ws.getUserData().session;
    if (session) this.edge.broker.bye(session, CloseCode.HELLO_TIMEOUT, 'no hello in time (evicted: too many connections awaiting hello)');
  }
}

export function mountWebSocket(app: TemplatedApp, broker: Broker, config: ServerConfig, log: Logger, counters: TransportCounters, batching: NativeBatching): ConnectionAdmission {
  const admission = new ConnectionAdmission(config);
  const outbox = new WsOutbox();
  const edge: Edge = { admission, broker, batching, outbox };
  // Every connection holds its address for life; clients behind one address share one string.
  const addresses = new Interner();
  app.ws<SocketData>(WS_PATH, {
    compression: uWS.DISABLED,
    // Up to twice the limit is read so an oversized frame can still be answered with a typed error;
    // past that uWS drops the connection (the client sees 1006).
    maxPayloadLength: config.maxFrameBytes * 2,
    // The hard limit. Slow subscribers are detached well before it (engine/slow-consumers.ts); a
    // connection that still gets here (a reply flood) is closed rather than have frames dropped.
    maxBackpressure: config.sendBufferHardLimitBytes,
    closeOnBackpressureLimit: 1,
    idleTimeout: config.idleTimeoutSec,
    sendPingsAutomatically: true,

    upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t) {
      const ip = addresses.intern(requestAddress(res, req, config.trustedProxyHeader));
      const refusal = admission.check(ip);
      if (refusal) {
        counters.refusedUpgrades++;
        res.writeStatus(refusal.status).end(refusal.message);
        return;
      }
      const offered = req.getHeader('sec-websocket-protocol').split(',').map((p) => p.trim());
      res.upgrade<SocketData>(
        { session: undefined, connection: undefined, ip },
        req.getHeader('sec-websocket-key'),
        offered.includes(SUBPROTOCOL) ? SUBPROTOCOL : '',
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },

    open(ws: WebSocket<SocketData>) {
      outbox.inCallback(() => {
        const data = ws.getUserData();
        const connection = new UwsConnection(ws, edge);
        data.connection = connection;
        data.session = broker.open(connection);
        admission.opened(connection);
      });
    },

    message(ws: WebSocket<SocketData>, message: ArrayBuffer, isBinary: boolean) {
      const session = ws.getUserData().session;
      // uWS neuters `message` after this callback returns; the broker decodes synchronously.
      if (!session) return;
      // The hot path: no closure per message (outbox.inCallback).
      outbox.enter();
      try {
        broker.message(session, message, isBinary);
      } finally {
        outbox.leave();
      }
    },

    drain(ws: WebSocket<SocketData>) {
      const session = ws.getUserData().session;
      if (session) outbox.inCallback(() => broker.drain(session));
    },

    close(ws: WebSocket<SocketData>, code: number) {
      const data = ws.getUserData();
      data.connection?.markClosed();
      if (code === ABNORMAL_CLOSURE) counters.cutOff++;
      if (data.connection) admission.closed(data.connection, data.connection.isAuthenticated);
      const session = data.session;
      if (session) {
        log.debug({ conn: session.id, closeCode: code }, 'connection closed');
        outbox.inCallback(() => broker.closed(session));
      }
    },
  });
  return admission;
}
