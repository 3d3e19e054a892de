/** grpc-web-text for @gomomento/sdk-web on the uWS HTTP/1.1 server: the same service handlers as the
 * HTTP/2 listener, behind a small framing shim. Requests and responses are base64 text; each message
 * is a 5-byte-framed protobuf, each base64-encoded on its own; the status travels in a final 0x80
 * trailer frame. A Subscribe is one long response the browser's XHR reads as it grows, so it is
 * ended (OK) every momento.webStreamMaxMs and the SDK resubscribes from its last position. */
import { EventEmitter } from 'node:events';
import { Metadata, status, type ServiceDefinition, type StatusObject } from '@grpc/grpc-js';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { TidingsConfig } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import type { Clock } from '../../core/clock.js';
import { BodyBudgetError, BodyTooLargeError, readBody } from '../http-body.js';
import type { BodyBudget } from '../body-budget.js';
import { requestAddress } from '../admission.js';
import type { Broker } from '../../engine/broker.js';
import type { MomentoService } from './listener.js';
import { NO_HEADER_CREDENTIAL, credentialOf } from './calls.js';
import type { Grant } from '../../auth/tokens.js';
import { toStatus } from './status.js';
import { Cors } from '../http-common.js';

/** `Allow-Headers: *` does not cover `authorization`; every header the web SDK sends is listed. */
const ALLOWED_HEADERS = 'authorization, cache, agent, runtime-version, read-concern, x-grpc-web, x-user-agent, grpc-timeout, content-type';
const FORWARDED_METADATA = ['authorization', 'cache', 'agent', 'runtime-version', 'read-concern'];
/** Their bodies are read before any credential, so they are held to what they need (a token
 * request is an API key and a scope of at most auth.maxPermissions; a ping is empty), not the
 * multi-MiB bound of cache writes: an anonymous caller ties up at most this much per call. */
const NO_HEADER_CREDENTIAL_MAX_BODY_BYTES = 64 * 1024;

type Handler = (call: unknown, callback?: (err: Partial<StatusObject> | null, response?: unknown) => void) => void;
interface Method { definition: ServiceDefinition[string]; handler: Handler | undefined; headerCredential: boolean }

function frame(flag: number, payload: Uint8Array): string {
  const out = Buffer.allocUnsafe(5 + payload.byteLength);
  out[0] = flag;
  out.writeUInt32BE(payload.byteLength, 1);
  out.set(payload, 5);
  return out.toString('base64');
}

function trailer(code: number, details: string, metadata: Metadata | null | undefined): string {
  let text = `grpc-status:${code}\r\ngrpc-message:${encodeURIComponent(details)}\r\n`;
  const err = metadata?.get('err')[0];
  if (err !== undefined) text += `err:${String(err)}\r\n`;
  return frame(0x80, Buffer.from(text, 'utf8'));
}

/** CORS headers for an answer to `origin`, as the HTTP API decides them (server.corsOrigins): an
 * origin not listed gets none, so its page cannot read the answer. */
function corsHeaders(res: HttpResponse, cors: Cors, origin: string): void {
  const allowed = cors.headers(origin);
  for (const [name, value] of Object.entries(allowed)) res.writeHeader(name, value);
  if (allowed['access-control-allow-origin']) res.writeHeader('access-control-expose-headers', 'grpc-status, grpc-message, err');
}

/** The response side of one grpc-web call: headers once, data frames, then the trailer. */
class WebResponse {
  /** Headers (and so a first message or the trailer) are written. */
  started = false;
  ended = false;
  private waiting: Array<() => void> = [];
  constructor(private readonly res: HttpResponse, private readonly cors: Cors, private readonly origin: string) {}

  private head(): void {
    if (this.started) return;
    this.started = true;
    this.res.writeStatus('200 OK');
    this.res.writeHeader('content-type', 'application/grpc-web-text+proto');
    corsHeaders(this.res, this.cors, this.origin);
  }

  /** Writes one message; `done` runs once the socket took it, never synchronously (as a grpc-js
   * write callback): the Subscribe stream continues a replay from it, and a synchronous call would
   * re-enter the replay while it is still sending the item just written. */
  message(bytes: Uint8Array, done?: () => void): void {
    if (this.ended) return;
    let ok = true;
    this.res.cork(() => { this.head(); ok = this.res.write(frame(0, bytes)); });
    if (!done) return;
    if (ok) return queueMicrotask(done);
    if (this.waiting.push(done) === 1) {
      this.res.onWritable(() => {
        for (const cb of this.waiting.splice(0)) cb();
        return true;
      });
    }
  }

  finish(code: number, details: string, metadata?: Metadata | null): void {
    if (this.ended) return;
    this.ended = true;
    this.res.cork(() => { this.head(); this.res.end(trailer(code, details, metadata)); });
  }
}

/** The one stream the web SDK resumes by calling again after an `OK` end. */
const SUBSCRIBE_PATH = '/cache_client.pubsub.Pubsub/Subscribe';
/** A resubscribe refused before its first message ends `OK` this long after the refusal: the web
 * SDK resubscribes at once after an `OK` end, so a refusal that comes at once (Redis away and
 * redis.maxQueuedCommands held) would otherwise have it resubscribe in a tight loop. The Node SDK
 * waits as long after `UNAVAILABLE` (its DEFAULT_SUBSCRIPTION_RETRY_DELAY_MILLIS). */
export const REFUSED_RESUBSCRIBE_PAUSE_MS = 500;

/** What the shared handlers read from a Subscribe call, over a grpc-web response. */
class WebStream extends EventEmitter {
  cancelled = false;
  constructor(readonly request: unknown, readonly metadata: Metadata, readonly address: string, readonly grant: Grant | undefined, private readonly path: string, private readonly out: WebResponse, private readonly serialize: (m: unknown) => Buffer, clock: Clock) {
    super();
    // The handler ends a stream by emitting 'error' with its status (grpc-js's own convention).
    // The web SDK resubscribes (from its last position) after an OK end or a dropped connection,
    // but treats any other end after its first message as final, unlike the Node SDK; so a
    // Subscribe the server ends for a retryable reason (slow consumer, shutdown, Redis unreachable:
    // UNAVAILABLE; Redis answering too late: DEADLINE_EXCEEDED) ends OK here, as the periodic
    // recycle does. Not a batch: ended OK, its answers so far would read as all of them.
    this.on('error', (s: StatusObject) => {
      if (path !== SUBSCRIBE_PATH || (s.code !== status.UNAVAILABLE && s.code !== status.DEADLINE_EXCEEDED)) return out.finish(s.code, s.details, s.metadata);
      if (out.started) return out.finish(status.OK, 'OK');
      // Refused before any message, the SDK's subscribe() (no position yet: resume_at 0) takes an
      // error as its answer, TopicSubscribe.Error, as the Node SDK does: ended OK, it would
      // resubscribe again and again with subscribe() pending.
      if (!((request as { resume_at_topic_sequence_number: number }).resume_at_topic_sequence_number > 0)) return out.finish(s.code, s.details, s.metadata);
      clock.setTimeout(() => out.finish(status.OK, 'OK'), REFUSED_RESUBSCRIBE_PAUSE_MS);
    });
  }
  write(message: unknown, done?: () => void): boolean {
    this.out.message(this.serialize(message), done);
    return !this.out.ended;
  }
  getPath(): string { return this.path; }
  getPeer(): string { return this.address; }
  /** A stream the handler ends itself (a batch): OK. */
  end(): void {
    this.out.finish(status.OK, 'OK');
    this.emit('ended');
  }
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.emit('cancelled');
  }
}

export function mountGrpcWeb(app: TemplatedApp, services: MomentoService[], deps: { config: Readonly<TidingsConfig>; log: Logger; bodies: BodyBudget; broker: Broker; clock: Clock }): void {
  const { config, log, bodies, broker, clock } = deps;
  const methods = new Map<string, Method>();
  for (const service of services) {
    for (const [name, definition] of Object.entries(service.definition)) {
      methods.set(definition.path, { definition, handler: service.implementation[name] as Handler | undefined, headerCredential: !NO_HEADER_CREDENTIAL.has(service.name) });
    }
  }
  // Base64 inflates by 4/3: the body limit follows the gRPC message limit.
  const maxBodyBytes = Math.ceil(((config.momento.maxMessageBytes + 5) * 4) / 3) + 4;
  // The same origins as the HTTP API on this port: an operator's list holds for both.
  const cors = new Cors(config.server.corsOrigins, config.http.corsMaxAgeSec);

  const route = (res: HttpResponse, req: HttpRequest) => {
    const verb = req.getMethod().toLowerCase();
    const origin = req.getHeader('origin');
    if (verb === 'options') return cors.preflight(res, req, { methods: 'POST, OPTIONS', headers: ALLOWED_HEADERS });
    const path = req.getUrl();
    const method = methods.get(path);
    const metadata = new Metadata();
    for (const name of FORWARDED_METADATA) {
      const value = req.getHeader(name);
      if (value) metadata.set(name, value);
    }
    // The client address per-address request rates are charged to (grpc/calls.ts, callerAddress).
    const address = requestAddress(res, req, config.server.trustedProxyHeader);
    const out = new WebResponse(res, cors, origin);
    if (verb !== 'post' || !method) {
      res.writeStatus(verb === 'post' ? '404 Not Found' : '405 Method Not Allowed');
      corsHeaders(res, cors, origin);
      res.end();
      return;
    }
    // The credential before the body: an unauthenticated call is answered UNAUTHENTICATED (as the
    // handler would) without the server reading or holding its upload. Synchronous, so the body
    // reader below is still registered before this handler returns (uWS requires it). The handler
    // opens its session with this Grant (calls.ts, VerifiedGrants): only expiry and revocation are
    // checked again once the body is in, not the signature.
    let grant: Grant | undefined;
    if (method.headerCredential) {
      try {
        grant = broker.verifyCredential(credentialOf(metadata));
      } catch (err) {
        const s = toStatus(err);
        return out.finish(s.code, s.details, s.metadata);
      }
    }
    // Held while the body is read and decoded, not for a response stream that may last hours:
    // from then on the request is a decoded message, bounded by momento.maxMessageBytes.
    const lease = bodies.lease(res, req);
    let aborted = false;
    let onAbort: (() => void) | undefined;
    res.onAborted(() => { aborted = true; out.ended = true; lease.release(); onAbort?.(); });
    readBody(res, method.headerCredential ? maxBodyBytes : NO_HEADER_CREDENTIAL_MAX_BODY_BYTES, () => aborted, lease).then((body) => {
      lease.release();
      if (aborted) return;
      const bytes = Buffer.from(body.toString('latin1'), 'base64');
      if (bytes.byteLength < 5 || bytes[0] !== 0 || bytes.readUInt32BE(1) > bytes.byteLength - 5) {
        return out.finish(status.INVALID_ARGUMENT, 'malformed grpc-web request', null);
      }
      if (!method.handler) return out.finish(status.UNIMPLEMENTED, `${path} is not implemented`, null);
      let request: unknown;
      try {
        request = method.definition.requestDeserialize(bytes.subarray(5, 5 + bytes.readUInt32BE(1)));
      } catch {
        // A throw here would be an unhandled rejection: the process would exit.
        return out.finish(status.INVALID_ARGUMENT, 'malformed request message', null);
      }
      const serialize = (m: unknown) => method.definition.responseSerialize(m);
      if (method.definition.responseStream) {
        const stream = new WebStream(request, metadata, address, grant, path, out, serialize, clock);
        // Only a Subscribe is recycled (the SDK resumes it); a batch ended OK early would be short.
        const recycle = path === SUBSCRIBE_PATH
          ? setTimeout(() => { stream.cancel(); out.finish(status.OK, 'OK'); }, config.momento.webStreamMaxMs)
          : undefined;
        stream.on('error', () => clearTimeout(recycle));
        stream.on('ended', () => clearTimeout(recycle));
        onAbort = () => { clearTimeout(recycle); stream.cancel(); };
        method.handler(stream);
        return;
      }
      method.handler({ request, metadata, address, grant, getPath: () => path, getPeer: () => address, cancelled: false }, (err, response) => {
        if (aborted) return;
        if (err) return out.finish(err.code ?? status.UNKNOWN, err.details ?? 'error', err.metadata);
        out.message(serialize(response));
        out.finish(status.OK, 'OK');
      });
    }, (err: unknown) => {
      lease.release();
      if (aborted) return;
      if (err instanceof BodyTooLargeError) return out.finish(status.RESOURCE_EXHAUSTED, err.message, null);
      if (err instanceof BodyBudgetError) return out.finish(status.UNAVAILABLE, err.message, null);
      log.error({ err, path }, 'grpc-web request failed');
      out.finish(status.INTERNAL, 'internal server error', null);
    }).catch((err: unknown) => {
      // A handler that threw: answered, never an unhandled rejection (which ends the process).
      log.error({ err, path }, 'grpc-web request failed');
      if (!aborted) out.finish(status.INTERNAL, 'internal server error', null);
    });
  };
  for (const service of services) app.any(`/${service.name}/*`, route);
}
