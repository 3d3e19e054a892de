/** HTTP long-poll, for clients that can hold neither a WebSocket nor a stream:
 * `GET /v1/poll?cache=…&topic=…[&topic=…]&cursor=<page>:<seq>[,…]&waitMs=…` answers the items
 * after `cursor` at once when there are any, else waits for the next one up to a bound, and always
 * returns the cursor to poll with next. Each poll is a short subscribe through `Broker.dispatch`
 * resuming from the cursor, so a client polling at any pace gets every item once, or a `disc`
 * event when the window no longer covers the time it was away. */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { ErrorCode, decodeFrame, topicKey, type Position } from '../protocol/index.js';
import { invalidArgument } from '../core/errors.js';
import type { HttpConfig, ServerConfig, TopicsConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Broker } from '../engine/broker.js';
import type { Connection, Session } from '../engine/session.js';
import { bearer, closedBeforeAnswer, errorReply, refuseCredentialInUrl, writeJson, type Cors } from './http-common.js';
import type { JsFanout, JsReceiver, SharedFrame } from './js-fanout.js';
import { formatCursor, jsonEvent, parseCursor } from './json-events.js';
import { requestAddress, type ConnectionAdmission } from './admission.js';

export interface LongPollDeps { broker: Broker; fanout: JsFanout; admission: ConnectionAdmission; cors: Cors; log: Logger; clock: Clock; config: { server: ServerConfig; http: HttpConfig; topics: TopicsConfig } }

/** A decoded JSON event, computed once per publish for every poller waiting on it. */
function pollEvent(bytes: Uint8Array): { key: string; position: Position; event: Record<string, unknown> } | undefined {
  let frame: Record<string, unknown>;
  try {
    frame = decodeFrame(bytes);
  } catch {
    return undefined;
  }
  const e = jsonEvent(frame);
  if (!e || !['item', 'retract', 'disc', 'end'].includes(e.type)) return undefined;
  const page = frame['page'] as number;
  const seq = e.type === 'disc' ? (frame['newSeq'] as number) - 1 : (frame['seq'] as number);
  return { key: topicKey(frame['cache'] as string, frame['topic'] as string), position: { page, seq }, event: { type: e.type, ...e.data } };
}

class PollConnection implements Connection, JsReceiver {
  readonly positions: Position[];
  readonly events: Array<Record<string, unknown>> = [];
  private bytes = 0;
  private readonly indexOf = new Map<string, number>();
  /** Set while waiting: called when the first event arrives. */
  onEvent: (() => void) | undefined;
  /** The broker closed the session (revoked or expired credential, shutdown, slow consumer). */
  onClose: ((code: number, reason: string) => void) | undefined;

  constructor(keys: string[], private readonly fanout: JsFanout) {
    keys.forEach((key, i) => this.indexOf.set(key, i));
    this.positions = keys.map(() => ({ page: 0, seq: 0 }));
  }

  send(frame: Uint8Array): boolean {
    this.add(pollEvent(frame), frame.byteLength);
    return true;
  }

  receive(frame: SharedFrame): void {
    this.add(frame.as('poll', pollEvent), frame.bytes.byteLength);
  }

  private add(e: ReturnType<typeof pollEvent>, bytes: number): void {
    if (!e) return;
    const i = this.indexOf.get(e.key);
    if (i === undefined) return;
    if (e.event['type'] !== 'end') this.positions[i] = e.position;
    this.events.push(e.event);
    // Counted as the send buffer, so a replay stops at half of it and the rest waits for the next poll.
    this.bytes += bytes;
    this.onEvent?.();
  }

  bufferedAmount(): number { return this.bytes; }
  attach(key: string): void { this.fanout.attach(key, this); }
  detach(key: string): void { this.fanout.detach(key, this); }
  detachAll(): void { this.fanout.detachAll(this); }
  close(code: number, reason: string): void {
    this.detachAll();
    this.onClose?.(code, reason);
  }
}

export function mountLongPoll(app: TemplatedApp, deps: LongPollDeps): void {
  const { broker, cors, log, clock, config } = deps;

  app.get('/v1/poll', (res: HttpResponse, req: HttpRequest) => {
    const query = new URLSearchParams(req.getQuery() ?? '');
    const authorization = req.getHeader('authorization');
    const corsHeaders = cors.headers(req.getHeader('origin'));
    const ip = requestAddress(res, req, config.server.trustedProxyHeader);
    const cache = query.get('cache') ?? '';
    const topics = query.getAll('topic');
    const poll = new PollConnection(topics.map((topic) => topicKey(cache, topic)), deps.fanout);
    let session: Session | undefined;
    let timer: TimerHandle | undefined;
    let done = false;
    /** Holds one of the server.maxConnections slots (admission) while set. */
    let slot = false;
    const finish = (reply: () => void) => {
      if (done) return;
      done = true;
      if (slot) { slot = false; deps.admission.release(ip); }
      clock.clearTimeout(timer);
      poll.onEvent = undefined;
      poll.detachAll();
      if (session) broker.closed(session);
      reply();
    };
    res.onAborted(() => finish(() => {}));
    const answer = () => finish(() => writeJson(res, { status: '200 OK', body: { cursor: formatCursor(poll.positions), events: poll.events } }, { 'cache-control': 'no-store', ...corsHeaders }));
    /** Until every topic is subscribed, `poll.positions` lacks the position of some. */
    let subscribing = true;
    // A poll is a connection while it waits: closed by the broker (revoked or expired credential,
    // shutdown), it is answered now, not left to wait out its timer.
    poll.onClose = (code, reason) => {
      const error = closedBeforeAnswer(code, reason, 'poll again with the same cursor');
      // Before every topic is subscribed, a cursor would name 0:0 for some, and the next poll would
      // replay their windows behind a disc: refused instead, the client polls again with its own.
      if (subscribing || error.code === ErrorCode.AUTHENTICATION_ERROR) finish(() => writeJson(res, errorReply(error, log), corsHeaders));
      else answer();
    };

    void (async () => {
      try {
        refuseCredentialInUrl(query);
        if (query.getAll('cache').length !== 1) throw invalidArgument('name exactly one cache: ?cache=…');
        if (topics.length === 0) throw invalidArgument('name at least one topic: &topic=…');
        if (topics.length > config.topics.maxSubscriptionsPerConnection) throw invalidArgument(`at most ${config.topics.maxSubscriptionsPerConnection} topics per poll`);
        if (new Set(topics).size !== topics.length) throw invalidArgument('a topic is named twice');
        const cursorText = query.get('cursor');
        const cursor = cursorText ? parseCursor(cursorText, topics.length) : undefined;
        if (cursorText && !cursor) throw invalidArgument('cursor must be the cursor of an earlier poll on the same topics (<page>:<seq>, comma-separated)');
        const waitText = query.get('waitMs');
        const waitMs = waitText === null ? config.http.longPollMaxWaitMs : Number(waitText);
        if (!Number.isInteger(waitMs) || waitMs < 0) throw invalidArgument('waitMs must be an integer ≥ 0');
        const token = bearer(authorization);
        // A waiting poll holds a session like a connection does, so it counts towards the cap.
        const refused = deps.admission.acquire(ip);
        if (refused) throw refused;
        slot = true;
        // Each poll is a new request, like an HTTP API call: its subscribes are charged to the
        // client address's bucket (limits.connectionOps*), not a fresh per-session one.
        const opened = await broker.openAuthenticated(poll, token, ip);
        if (done) return void broker.closed(opened); // the client went away meanwhile
        session = opened;
        for (let i = 0; i < topics.length && !done; i++) {
          const after = cursor?.[i];
          await broker.dispatch(session, { t: 'sub', id: 0, cache, topic: topics[i]!, ...(after ? { after } : {}) }, 'http', (r) => { poll.positions[i] = after ?? r; });
        }
        if (done) return;
        subscribing = false;
        if (poll.events.length > 0 || waitMs === 0) return answer();
        // Answer on the next turn after the first event, so items published together leave together.
        poll.onEvent = () => { poll.onEvent = undefined; setImmediate(answer); };
        timer = clock.setTimeout(answer, Math.min(waitMs, config.http.longPollMaxWaitMs));
      } catch (err) {
        finish(() => writeJson(res, errorReply(err, log), corsHeaders));
      }
    })();
  });
}
