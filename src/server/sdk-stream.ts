/** The SDK's fallback transport when WebSocket upgrades fail (a proxy that breaks them): the same
 * protocol session as a WebSocket, carried by an SSE stream down and HTTP POSTs up (Centrifugo's
 * "bidirectional emulation"). `GET /v1/stream` opens the session: its first event names a random
 * stream id, then every server frame follows as one base64 `data:` line. `POST /v1/stream` with
 * header `X-Tidings-Stream: <id>` carries request frames (each prefixed by its length, 4 bytes big
 * endian), handed to `Broker.message` in order exactly as WebSocket messages are. The credential
 * travels inside `hello`/`auth` frames in POST bodies, never in a URL; the stream id, an
 * unguessable per-connection capability, travels in a header. */
import { randomBytes } from 'node:crypto';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { CloseCode, ErrorCode, LimitCause } from '../protocol/index.js';
import { TidingsError, invalidArgument, limitExceeded, notFound } from '../core/errors.js';
import type { HttpConfig, ServerConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { Broker } from '../engine/broker.js';
import type { Connection, Session } from '../engine/session.js';
import { readTypedBody } from './http-body.js';
import type { BodyBudget } from './body-budget.js';
import { errorReply, writeJson, type Cors, type JsonReply } from './http-common.js';
import { SharedFrame, type JsFanout, type JsReceiver } from './js-fanout.js';
import { ResponseStream } from './response-stream.js';
import { requestAddress, type ConnectionAdmission, type PendingConnection } from './admission.js';

export interface SdkStreamDeps {
  broker: Broker;
  /** The server's budget of request-body bytes in flight. */
  bodies: BodyBudget;
  fanout: JsFanout;
  cors: Cors;
  log: Logger;
  config: { server: ServerConfig; http: HttpConfig };
  /** The WebSocket admission: a fallback stream is a connection like a WebSocket, under the same
   * caps (server-wide, per IP, awaiting hello). */
  admission: ConnectionAdmission;
}

const base64Event = (bytes: Uint8Array) => `data: ${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}\n\n`;

class StreamConnection implements Connection, JsReceiver, PendingConnection {
  session: Session | undefined;
  /** A POST body is being read for this stream. */
  receiving = false;
  private admitted = false;
  private released = false;

  constructor(
    readonly ip: string,
    readonly stream: ResponseStream,
    private readonly fanout: JsFanout,
    private readonly admission: ConnectionAdmission,
    private readonly onSlow: (c: StreamConnection) => void,
    private readonly forget: () => void,
  ) {}

  /** `hello` succeeded: counted as authenticated, as a WebSocket is. */
  authenticated(): boolean {
    if (!this.stream.open || !this.admission.authenticate(this)) return false;
    this.admitted = true;
    return true;
  }

  /** Admission needs this slot (still awaiting hello) for a newer connection. */
  evict(): void {
    if (this.session) this.sessionBye(CloseCode.HELLO_TIMEOUT, 'no hello in time (evicted: too many connections awaiting hello)');
  }

  sessionBye: (code: number, reason: string) => void = () => {};

  /** Gives the admission slot back, once, whichever way the stream ended. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.admission.closed(this, this.admitted);
    this.forget();
  }

  send(frame: Uint8Array): boolean {
    return this.write(base64Event(frame));
  }

  receive(frame: SharedFrame): void {
    this.write(frame.as('b64', base64Event));
  }

  private write(text: string): boolean {
    if (this.stream.write(text)) return true;
    if (this.stream.open) this.onSlow(this);
    return false;
  }

  bufferedAmount(): number { return this.stream.bufferedAmount(); }

  attach(key: string): void {
    if (!this.stream.open) return;
    this.fanout.attach(key, this);
  }

  detach(key: string): void {
    this.fanout.detach(key, this);
  }

  detachAll(): void {
    this.fanout.detachAll(this);
  }

  /** A WebSocket close code has no place in HTTP: it travels as a last `close` event, which the
   * SDK turns into the close event a WebSocket would have given it. */
  close(code: number, reason: string): void {
    this.detachAll();
    this.stream.write(`event: close\ndata: ${JSON.stringify({ code, reason })}\n\n`);
    // The slot is given back once the stream's socket is done (a congested one may take its last
    // events first: ResponseStream.end).
    this.stream.end();
  }
}

/** Splits a POST body into frames: each is a 4-byte big-endian length, then that many bytes.
 * The whole body is checked first (a malformed one is refused before any frame is served), then
 * each frame is made as it is taken: a body of 500 000 empty frames whose connection is closed
 * after a hundred of them costs no 500 000 arrays (~250 ms). */
export function splitFrames(body: Buffer): Iterable<Uint8Array> {
  for (let at = 0; at < body.byteLength;) {
    if (at + 4 > body.byteLength) throw invalidArgument('truncated frame length');
    at += 4 + body.readUInt32BE(at);
    if (at > body.byteLength) throw invalidArgument('frame longer than the body');
  }
  return framesOf(body);
}

function* framesOf(body: Buffer): Generator<Uint8Array> {
  for (let at = 0; at < body.byteLength;) {
    const length = body.readUInt32BE(at);
    yield new Uint8Array(body.buffer, body.byteOffset + at + 4, length);
    at += 4 + length;
  }
}

const preHelloTooLarge = (maxBytes: number) => limitExceeded(LimitCause.REQUEST_SIZE,
  `a POST before hello carries the hello frame: at most ${maxBytes} bytes (server.maxPreHelloFrameBytes + 4)`);

export function mountSdkStream(app: TemplatedApp, deps: SdkStreamDeps): void {
  const { broker, cors, log, config, admission } = deps;
  const streams = new Map<string, StreamConnection>();

  app.get('/v1/stream', (res: HttpResponse, req: HttpRequest) => {
    const corsHeaders = cors.headers(req.getHeader('origin'));
    const ip = requestAddress(res, req, config.server.trustedProxyHeader);
    const refusal = admission.check(ip);
    if (refusal) {
      const error = refusal.status.startsWith('503')
        ? new TidingsError(ErrorCode.SERVER_UNAVAILABLE, refusal.message)
        : limitExceeded(LimitCause.CONNECTIONS, refusal.message);
      writeJson(res, errorReply(error, log), corsHeaders);
      return;
    }
    const id = randomBytes(24).toString('base64url');
    let connection: StreamConnection | undefined;
    const gone = () => {
      if (!connection) return;
      connection.detachAll();
      connection.release();
      if (connection.session) broker.closed(connection.session);
    };
    // The transport's hard limit; slow subscribers are detached well before it (engine/slow-consumers.ts).
    const stream = new ResponseStream(res, config.server.sendBufferHardLimitBytes, () => { if (connection?.session) broker.drain(connection.session); }, gone, config.server.shutdownGraceMs);
    connection = new StreamConnection(ip, stream, deps.fanout, admission, (slow) => {
      // Past the hard limit, as a WebSocket would be: close; the SDK reconnects and resumes.
      log.debug({ conn: slow.session?.id }, 'sdk stream closed at the send buffer limit');
      slow.detachAll();
      slow.stream.close();
      gone();
    }, () => streams.delete(id));
    stream.onEnded = () => connection?.release();
    admission.opened(connection);
    streams.set(id, connection);
    stream.begin({
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      ...corsHeaders,
    }, `event: open\ndata: ${JSON.stringify({ stream: id, maxPostBytes: config.http.maxStreamPostBytes })}\n\n`);
    // Opened like a WebSocket: the hello deadline runs, the first frame must be hello.
    const session = broker.open(connection);
    connection.session = session;
    connection.sessionBye = (code, reason) => broker.bye(session, code, reason);
  });

  app.post('/v1/stream', (res: HttpResponse, req: HttpRequest) => {
    const id = req.getHeader('x-tidings-stream');
    const corsHeaders = cors.headers(req.getHeader('origin'));
    const refuse = (err: TidingsError) => writeJson(res, errorReply(err, log), corsHeaders);
    const gone = () => notFound('no such stream (it closed); open a new one');
    // Checked before the body is read: a stream id costs no credential (hello comes in a POST),
    // so what a request may make the server hold must be bounded per stream, not per request.
    const target = streams.get(id);
    if (!target?.session || target.session.state === 'closed') return refuse(gone());
    // The SDK posts one batch at a time: one body being read per stream, at most maxStreamPostBytes.
    if (target.receiving) return refuse(limitExceeded(LimitCause.PENDING_REQUESTS, 'one POST at a time per stream'));
    // Before hello the stream has no credential: its POST carries the hello frame (the SDK sends
    // nothing else until hello is answered), so it is bounded like a WebSocket's first frame, not
    // by http.maxStreamPostBytes. A larger one is refused unread, and the stream closed as a
    // WebSocket would be (4503): an unauthenticated peer gets nothing more.
    const preHello = target.session.state === 'awaiting_hello';
    const maxBytes = preHello ? config.server.maxPreHelloFrameBytes + 4 : config.http.maxStreamPostBytes;
    const lease = deps.bodies.lease(res, req);
    if (preHello && lease.declaredBytes !== undefined && lease.declaredBytes > maxBytes) {
      lease.release();
      refuse(preHelloTooLarge(maxBytes));
      target.sessionBye(CloseCode.POLICY, 'POST too large before hello');
      return;
    }
    target.receiving = true;
    let aborted = false;
    res.onAborted(() => { aborted = true; target.receiving = false; lease.release(); });
    const work = async (): Promise<JsonReply> => {
      let body: Buffer;
      try {
        body = await readTypedBody(res, maxBytes, () => aborted, lease);
      } catch (err) {
        // A body without Content-Length found too large as it arrived: the same refusal.
        if (preHello && err instanceof TidingsError && err.cause_ === LimitCause.REQUEST_SIZE) {
          target.sessionBye(CloseCode.POLICY, 'POST too large before hello');
          throw preHelloTooLarge(maxBytes);
        }
        throw err;
      } finally {
        target.receiving = false;
      }
      const connection = streams.get(id);
      if (!connection?.session || connection.session.state === 'closed') throw gone();
      const frames = splitFrames(body);
      const session = connection.session;
      // Replies and pushes go down the stream, in order, as on a WebSocket. Once the session is
      // closed (e.g. by its refusal budget) the rest of the POST is not read.
      for (const frame of frames) {
        if (session.state === 'closed') break;
        broker.message(session, frame, true);
      }
      return { status: '204 No Content', body: null };
    };
    work()
      .catch((err: unknown) => errorReply(err, log))
      .then((reply) => {
        lease.release();
        if (!aborted) writeJson(res, reply, corsHeaders);
      });
  });

  app.any('/v1/stream', (res, req) => {
    // This route wins over Cors.mount's OPTIONS /v1/*: a cross-origin POST (X-Tidings-Stream) is preflighted.
    if (cors.enabled && req.getMethod().toLowerCase() === 'options') return cors.preflight(res, req);
    res.writeStatus('405 Method Not Allowed').end();
  });
}
