/** What every gRPC handler shares: reading Momento's metadata, a per-call authenticated session,
 * and answering a unary call from broker.dispatch (or its typed error). */
import type { Metadata, sendUnaryData, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import type { GenericRequest, OperationName, ResultOf, Value } from '../../protocol/index.js';
import { ErrorCode, innerCredential } from '../../protocol/index.js';
import { TidingsError, invalidArgument } from '../../core/errors.js';
import type { TidingsConfig } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import type { Grant, TokenAuthority } from '../../auth/tokens.js';
import type { Broker } from '../../engine/broker.js';
import { DISPATCH_ONLY, type Session } from '../../engine/session.js';
import type { JsFanout } from '../js-fanout.js';
import { clientIp } from '../admission.js';
import { UnimplementedError, toStatus } from './status.js';

export interface GrpcDeps {
  broker: Broker;
  auth: TokenAuthority;
  config: Readonly<TidingsConfig>;
  log: Logger;
  fanout: JsFanout;
  /** Credentials the HTTP/2 listener verified before the calls' messages were read. */
  grants: VerifiedGrants;
  /** The endpoint written into disposable-token replies (momento.endpoint or host:port). */
  endpoint(): string;
}

export function header(metadata: Metadata, name: string): string | undefined {
  const value = metadata.get(name)[0];
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : value.toString('utf8');
}

/** The raw credential from `authorization` (no Bearer prefix, as the SDKs send it); a Momento-shaped
 * wrapper is unwrapped too, for hand-written clients that send the whole string. */
export function credentialOf(metadata: Metadata): string {
  return innerCredential(header(metadata, 'authorization') ?? '');
}

/** Services whose calls carry no `authorization` credential: GenerateDisposableToken's is the
 * body's auth_token, Ping has none. Every other call's credential is in its headers, checked
 * before its message is read (grpc-web: web.ts; HTTP/2: request-gate.ts). */
export const NO_HEADER_CREDENTIAL: ReadonlySet<string> = new Set(['token.Token', 'cache_client.Ping']);

/** Grants the HTTP/2 listener verified from a call's metadata before reading its message
 * (request-gate.ts); the handler's call carries that same Metadata object. One per server. */
export class VerifiedGrants {
  private readonly byMetadata = new WeakMap<Metadata, Grant>();

  remember(metadata: Metadata, grant: Grant): void {
    this.byMetadata.set(metadata, grant);
  }

  /** What a call authenticates with: the Grant verified from its `authorization` header before its
   * message was read (grpc-web's on the call, HTTP/2's remembered by its metadata), so that
   * openAuthenticated only rechecks expiry and revocation. */
  of(call: { metadata: Metadata; grant?: Grant }): Grant {
    const grant = call.grant ?? this.byMetadata.get(call.metadata);
    // Every call of a service taking a header credential passes a gate that verifies it first.
    if (!grant) throw new Error('a call reached its handler without a verified credential');
    return grant;
  }
}

/** Scs calls name the cache in the `cache` metadata, not in the body. */
export function cacheHeader(metadata: Metadata): string {
  const cache = header(metadata, 'cache');
  if (!cache) throw invalidArgument('the cache name must be sent in the "cache" metadata');
  return cache;
}

/** Keys, list and dictionary names and dictionary fields arrive as bytes; Tidings' are text. Decoding with replacement would map
 * distinct byte strings (0xff, 0xfe) to one key, so bytes that are not UTF-8 are refused. A
 * leading BOM is kept: it is part of the name. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
export const utf8 = (bytes: Uint8Array): string => {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw invalidArgument('keys, collection names and dictionary fields must be valid UTF-8 (Tidings stores text names)');
  }
};

export function toBytes(value: Value): Uint8Array {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

/** The client address a call's requests are charged to (limits.connectionOps*: a gRPC call has no
 * connection of its own in Tidings' sense; one HTTP/2 connection carries many calls, grpc-web opens
 * a request per call). The last entry of server.trustedProxyHeader sent as metadata when configured,
 * else the peer address without its port. grpc-web calls carry the address their HTTP request had. */
export function callerAddress(call: { getPeer(): string; metadata: Metadata; address?: string }, trustedProxyHeader: string): string {
  if (call.address !== undefined) return call.address;
  const proxied = trustedProxyHeader === '' ? '' : header(call.metadata, trustedProxyHeader) ?? '';
  return clientIp(call.getPeer().replace(/:\d+$/, ''), proxied);
}

/** Runs `work` with a session opened for this call's credential, closes it, and answers the call. */
export function unary<Req, Res>(
  deps: GrpcDeps,
  call: ServerUnaryCall<Req, Res>,
  callback: sendUnaryData<Res>,
  work: (session: Session, request: Req) => Res | Promise<Res>,
): void {
  void (async () => {
    const session = await deps.broker.openAuthenticated(DISPATCH_ONLY, deps.grants.of(call), callerAddress(call, deps.config.server.trustedProxyHeader));
    try {
      return await work(session, call.request);
    } finally {
      deps.broker.closed(session);
    }
  })().then(
    (response) => callback(null, response),
    (err: unknown) => {
      if (!(err instanceof TidingsError) && !(err instanceof UnimplementedError)) deps.log.error({ err, path: call.getPath() }, 'grpc call failed unexpectedly');
      callback(toStatus(err));
    },
  );
}

/** A server-streaming call that is a batch of unary answers (GetBatch, SetBatch): one session, `work`
 * writes one message per item, then the stream ends OK; an error ends it with its status instead. */
export function batchStream<Req>(
  deps: GrpcDeps,
  call: ServerWritableStream<Req, unknown>,
  work: (session: Session, request: Req, write: (message: unknown, bytes: number) => Promise<void>) => Promise<void>,
): void {
  // A batch may name one large item many times: answers wait while more than
  // momento.maxStreamBufferBytes is unsent, so a client that does not read costs a bounded amount.
  const limit = deps.config.momento.maxStreamBufferBytes;
  let unsent = 0;
  let wake: (() => void) | undefined;
  const wakeUp = () => { const w = wake; wake = undefined; w?.(); };
  call.on('cancelled', wakeUp);
  // A cancelled call stops the batch: the items left are neither run nor charged.
  const cancelled = () => new TidingsError(ErrorCode.CANCELLED_ERROR, 'the call was cancelled');
  const write = async (message: unknown, bytes: number) => {
    if (call.cancelled) throw cancelled();
    unsent += bytes;
    call.write(message, () => { unsent -= bytes; wakeUp(); });
    while (unsent > limit && !call.cancelled) await new Promise<void>((resolve) => { wake = resolve; });
    if (call.cancelled) throw cancelled();
  };
  void (async () => {
    const session = await deps.broker.openAuthenticated(DISPATCH_ONLY, deps.grants.of(call), callerAddress(call, deps.config.server.trustedProxyHeader));
    try {
      await work(session, call.request, write);
    } finally {
      deps.broker.closed(session);
    }
  })().then(
    () => call.end(),
    (err: unknown) => {
      if (!(err instanceof TidingsError) && !(err instanceof UnimplementedError)) deps.log.error({ err, path: call.getPath() }, 'grpc call failed unexpectedly');
      call.emit('error', toStatus(err));
    },
  );
}

/** broker.dispatch typed by operation, always as a promise. */
export async function dispatch<K extends OperationName>(deps: GrpcDeps, session: Session, request: Omit<GenericRequest, 'id'> & { t: K }): Promise<ResultOf<K>> {
  // `id` only correlates WebSocket replies; dispatch ignores it.
  return await deps.broker.dispatch(session, { ...request, id: 0 } as GenericRequest & { t: K }, 'grpc');
}
