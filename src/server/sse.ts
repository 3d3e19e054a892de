/** Server-Sent Events: `GET /v1/sse?cache=…&topic=…[&topic=…]` streams a cache's topics as JSON
 * events (docs/http-api.md). Each event's `id` is the stream's position in every topic, so
 * `Last-Event-ID` resumes through the topic windows exactly like a WebSocket resubscribe: nothing
 * lost, nothing doubled, and a `disc` event when the window no longer covers the gap. The
 * credential comes in the Authorization header or as a one-use ticket (EventSource cannot send
 * headers); never as a token in the URL. */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { decodeFrame, topicKey, type Position } from '../protocol/index.js';
import { authenticationFailed, invalidArgument } from '../core/errors.js';
import type { HttpConfig, ServerConfig, TopicsConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { TokenAuthority } from '../auth/tokens.js';
import { HEARTBEAT_KEY, type Broker } from '../engine/broker.js';
import type { Connection, Session } from '../engine/session.js';
import { bearer, closedBeforeAnswer, errorReply, jsonRoute, refuseCredentialInUrl, writeJson, type Cors } from './http-common.js';
import { SharedFrame, type JsFanout, type JsReceiver } from './js-fanout.js';
import { formatCursor, jsonEvent, parseCursor } from './json-events.js';
import { ResponseStream } from './response-stream.js';
import type { TicketBook } from './tickets.js';
import { requestAddress, type ConnectionAdmission } from './admission.js';

export interface SseDeps {
  broker: Broker;
  auth: TokenAuthority;
  fanout: JsFanout;
  tickets: TicketBook;
  /** The WebSocket admission: a stream holds one of the server.maxConnections slots. */
  admission: ConnectionAdmission;
  cors: Cors;
  log: Logger;
  config: { server: ServerConfig; http: HttpConfig; topics: TopicsConfig };
}

/** The event text of a frame minus its `id:` line, computed once per publish for every stream. */
interface SseBody { kind: 'hb' | 'positioned' | 'plain' | 'skip'; key?: string; position?: Position; text: string }

function sseBody(bytes: Uint8Array): SseBody {
  let frame: Record<string, unknown>;
  try {
    frame = decodeFrame(bytes);
  } catch {
    return { kind: 'skip', text: '' };
  }
  if (frame['t'] === 'hb') return { kind: 'hb', text: ': hb\n\n' };
  const event = jsonEvent(frame);
  if (!event) return { kind: 'skip', text: '' };
  // Items are unnamed events, so EventSource's onmessage receives them; the rest are named.
  const text = `${event.type === 'item' ? '' : `event: ${event.type}\n`}data: ${JSON.stringify(event.data)}\n\n`;
  const t = event.type;
  if (t === 'item' || t === 'retract' || t === 'disc') {
    const page = frame['page'] as number;
    // After a disc the reader stands just before the first item that follows it.
    const seq = t === 'disc' ? (frame['newSeq'] as number) - 1 : (frame['seq'] as number);
    return { kind: 'positioned', key: topicKey(frame['cache'] as string, frame['topic'] as string), position: { page, seq }, text };
  }
  return { kind: 'plain', text };
}

class SseConnection implements Connection, JsReceiver {
  session: Session | undefined;
  /** Position per topic, in URL order; the `id` of every positioned event. */
  readonly positions: Position[];
  private readonly indexOf = new Map<string, number>();
  /** Frames that arrive while the stream is being set up, sent once every topic is subscribed. */
  private held: SharedFrame[] | undefined = [];
  private heldBytes = 0;

  constructor(readonly stream: ResponseStream, keys: string[], private readonly fanout: JsFanout, private readonly onSlow: (c: SseConnection) => void,
    private readonly onClosedEarly: (code: number, reason: string) => void) {
    keys.forEach((key, i) => this.indexOf.set(key, i));
    this.positions = keys.map(() => ({ page: 0, seq: 0 }));
  }

  send(frame: Uint8Array): boolean {
    return this.deliver(new SharedFrame(frame));
  }

  receive(frame: SharedFrame): void {
    this.deliver(frame);
  }

  private deliver(frame: SharedFrame): boolean {
    if (this.held) {
      this.held.push(frame);
      this.heldBytes += frame.bytes.byteLength;
      return true;
    }
    const body = frame.as('sse', sseBody);
    let text = body.text;
    if (body.kind === 'skip') return true;
    if (body.kind === 'positioned') {
      const i = this.indexOf.get(body.key!);
      if (i === undefined) return true;
      this.positions[i] = body.position!;
      text = `id: ${formatCursor(this.positions)}\n${text}`;
    }
    if (this.stream.write(text)) return true;
    if (this.stream.open) this.onSlow(this);
    return false;
  }

  /** Every topic is subscribed: the stream begins with `ready` (whose id already lets a client
   * resume without missing anything), then what arrived meanwhile. */
  begin(headers: Record<string, string>, retryMs: number, cache: string, topics: string[]): void {
    const ready = { cache, topics: topics.map((topic, i) => ({ topic, page: this.positions[i]!.page, seq: this.positions[i]!.seq })) };
    this.stream.begin(headers, `retry: ${retryMs}\nid: ${formatCursor(this.positions)}\nevent: ready\ndata: ${JSON.stringify(ready)}\n\n`);
    const held = this.held ?? [];
    this.held = undefined;
    this.heldBytes = 0;
    for (const frame of held) if (!this.deliver(frame)) return;
  }

  bufferedAmount(): number {
    return this.held ? this.heldBytes : this.stream.bufferedAmount();
  }

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

  close(code: number, reason: string): void {
    this.detachAll();
    // Before `ready` the response is no stream yet: closed then (shutdown, the credential's end),
    // it is answered with a typed error, not an empty 200 (the `bye` is among the held frames).
    if (this.held) this.onClosedEarly(code, reason);
    else this.stream.end();
  }
}

export function mountSse(app: TemplatedApp, deps: SseDeps): void {
  const { broker, auth, tickets, cors, log, config } = deps;

  /** Trade a credential (Authorization header) for a one-use ticket for EventSource's URL. */
  app.post('/v1/sse/tickets', (res, req) => {
    const authorization = req.getHeader('authorization');
    const ticketCors = cors.headers(req.getHeader('origin'));
    jsonRoute(res, log, async () => {
      const token = bearer(authorization);
      auth.verify(token);
      return { status: '201 Created', body: tickets.issue(token) };
    }, ticketCors);
  });

  app.get('/v1/sse', (res: HttpResponse, req: HttpRequest) => {
    // uWS invalidates `req` when this callback returns: copy what is needed now.
    const query = new URLSearchParams(req.getQuery() ?? '');
    const authorization = req.getHeader('authorization');
    const lastEventId = req.getHeader('last-event-id');
    const corsHeaders = cors.headers(req.getHeader('origin'));
    const ip = requestAddress(res, req, config.server.trustedProxyHeader);
    const cache = query.get('cache') ?? '';
    const topics = query.getAll('topic');
    let connection: SseConnection | undefined;
    // The transport's hard limit; slow subscribers are detached well before it (engine/slow-consumers.ts).
    const stream = new ResponseStream(res, config.server.sendBufferHardLimitBytes,
      () => { if (connection?.session) broker.drain(connection.session); },
      () => { if (connection) { connection.detachAll(); if (connection.session) broker.closed(connection.session); } },
      config.server.shutdownGraceMs);
    connection = new SseConnection(stream, topics.map((topic) => topicKey(cache, topic)), deps.fanout, (slow) => {
      // Past the hard limit, as a WebSocket would be: close; the client resumes from its last event id.
      log.debug({ conn: slow.session?.id }, 'sse stream closed at the send buffer limit');
      slow.detachAll();
      slow.stream.close();
      if (slow.session) broker.closed(slow.session);
    }, (code, reason) => stream.replaceWith(() => writeJson(res, errorReply(closedBeforeAnswer(code, reason, 'open the stream again, with the last event id'), log), corsHeaders)));
    const conn = connection;
    void (async () => {
      let session: Session | undefined;
      try {
        refuseCredentialInUrl(query);
        if (query.getAll('cache').length !== 1) throw invalidArgument('name exactly one cache: ?cache=…');
        if (topics.length === 0) throw invalidArgument('name at least one topic: &topic=…');
        if (topics.length > config.topics.maxSubscriptionsPerConnection) throw invalidArgument(`at most ${config.topics.maxSubscriptionsPerConnection} topics per stream`);
        if (new Set(topics).size !== topics.length) throw invalidArgument('a topic is named twice');
        const resumeText = lastEventId || query.get('lastEventId') || '';
        const resume = resumeText ? parseCursor(resumeText, topics.length) : undefined;
        if (resumeText && !resume) throw invalidArgument('Last-Event-ID must be the id of an event of a stream on the same topics (<page>:<seq>, comma-separated)');
        // A slot first: a stream refused for room (retryable) must not spend its one-use ticket.
        const refused = deps.admission.acquire(ip);
        if (refused) throw refused;
        stream.onEnded = () => deps.admission.release(ip);
        const ticket = query.get('ticket');
        const token = authorization ? bearer(authorization) : ticket ? tickets.redeem(ticket) : undefined;
        if (token === undefined) throw authenticationFailed('send "Authorization: Bearer <token>", or a ticket (?ticket=…) from POST /v1/sse/tickets');
        session = await broker.openAuthenticated(conn, token);
        conn.session = session;
        for (let i = 0; i < topics.length; i++) {
          if (!stream.open) break;
          const after = resume?.[i];
          // The position is set as the reply leaves, before any replayed frame: frames follow it.
          await broker.dispatch(session, { t: 'sub', id: 0, cache, topic: topics[i]!, ...(after ? { after } : {}) }, 'http', (r) => { conn.positions[i] = after ?? r; });
        }
        // Ended meanwhile: whatever ended it (onAborted, onSlow, a bye) closed the session too.
        if (!stream.open) return;
        conn.attach(HEARTBEAT_KEY);
        conn.begin({
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          // Reverse proxies (nginx) must not buffer a stream.
          'x-accel-buffering': 'no',
          ...corsHeaders,
        }, config.http.sseRetryMs, cache, topics);
        // A replay that stopped for room while frames were held continues now that they are sent.
        if (stream.open) broker.drain(session);
      } catch (err) {
        if (session) broker.closed(session);
        conn.detachAll();
        stream.replaceWith(() => writeJson(res, errorReply(err, log), corsHeaders));
      }
    })();
  });
}
