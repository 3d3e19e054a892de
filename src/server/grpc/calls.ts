/** What every gRPC handler shares: reading Momento's metadata, a per-call authenticated session,
 * and answering a unary call from broker.dispatch (or its typed error). */
import type { Metadata, sendUnaryData, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import type { GenericRequest, OperationName, ResultOf, Value } from '../../protocol/index.js';
import { innerCredential } from '../../protocol/index.js';
import { TidingsError, invalidArgument } from '../../core/errors.js';
import type { TidingsConfig } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import type { TokenAuthority } from '../../auth/tokens.js';
import type { Broker } from '../../engine/broker.js';
import type { Connection, Session } from '../../engine/session.js';
import type { JsFanout } from '../js-fanout.js';
import { clientIp } from '../admission.js';
import { UnimplementedError, toStatus } from './status.js';

export interface GrpcDeps {
  broker: Broker;
  auth: TokenAuthority;
  config: Readonly<TidingsConfig>;
  log: Logger;
  fanout: JsFanout;
  /** The endpoint written into disposable-token replies (momento.endpoint or host:port). */
  endpoint(): string;
}

/** A unary call never receives frames: its session only dispatches. */
const UNARY_CONNECTION: Connection = {
  send: () => true,
  bufferedAmount: () => 0,
  attach: () => {},
  detach: () => {},
  close: () => {},
};

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

/** Scs calls name the cache in the `cache` metadata, not in the body. */
export function cacheHeader(metadata: Metadata): string {
  const cache = header(metadata, 'cache');
  if (!cache) throw invalidArgument('the cache name must be sent in the "cache" metadata');
  return cache;
}

export const utf8 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');

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
    const session = await deps.broker.openAuthenticated(UNARY_CONNECTION, credentialOf(call.metadata), callerAddress(call, deps.config.server.trustedProxyHeader));
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
  work: (session: Session, request: Req, write: (message: unknown) => void) => Promise<void>,
): void {
  void (async () => {
    const session = await deps.broker.openAuthenticated(UNARY_CONNECTION, credentialOf(call.metadata), callerAddress(call, deps.config.server.trustedProxyHeader));
    try {
      await work(session, call.request, (message) => { if (!call.cancelled) call.write(message); });
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
  return await deps.broker.dispatch(session, { ...request, id: 0 } as GenericRequest & { t: K });
}
