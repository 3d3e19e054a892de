/** The request-shape limits (core/request-shape.ts) for protobuf request messages: a message's
 * fields are counted from their tags before google-protobuf decodes it, since decoding costs per
 * field (a repeated bytes field of empty elements, two bytes each, costs the decoder a new
 * Uint8Array per two bytes: ~7x what a list of real values costs per byte). A length-delimited
 * field may as well be bytes as a message, so only the message fields each answered method is
 * known to nest (NESTED) are walked into and their fields counted too; the rest are skipped. */
import type { MethodDefinition, ServerUnaryCall, UntypedServiceImplementation, sendUnaryData } from '@grpc/grpc-js';
import type { FrameShape } from '../../protocol/peek.js';
import { requestOps, shapeRefusal, type RequestShapeLimits } from '../../core/request-shape.js';
import type { TidingsError } from '../../core/errors.js';
import { callerAddress, type GrpcDeps } from './calls.js';
import { toStatus } from './status.js';

/** The message fields of a message, by field number, each with the message fields it nests in
 * turn: their fields are counted as well. */
export interface Nesting { readonly [field: number]: Nesting }

/** What a permission entry holds (permission_messages.PermissionsType: cache, topic, function). */
const PERMISSION: Nesting = { 1: {}, 2: {}, 3: {} };

/** The message fields of the answered methods' requests that hold repeated fields, or messages
 * that do (generated from @gomomento/generated-types' messages), by method path. */
export const NESTED: Readonly<Record<string, Nesting>> = {
  '/cache_client.Scs/GetBatch': { 1: {} },
  '/cache_client.Scs/SetBatch': { 1: {} },
  '/cache_client.Scs/DictionarySet': { 2: {} },
  // some (2): Some { repeated bytes fields = 1 }
  '/cache_client.Scs/DictionaryDelete': { 2: {} },
  // minuend (2): _Minuend { repeated bytes elements = 1 }; subtrahend (3): _Subtrahend { set (1): _Set { repeated bytes elements = 1 } }
  '/cache_client.Scs/SetDifference': { 2: {}, 3: { 1: {} } },
  // elements (2): repeated _SortedSetElement { value = 1, score = 2 }
  '/cache_client.Scs/SortedSetPut': { 2: {} },
  // some (3): _Some { repeated bytes values = 1 }
  '/cache_client.Scs/SortedSetRemove': { 3: {} },
  // sources (2): repeated _Source { set_name = 1, weight = 2 }
  '/cache_client.Scs/SortedSetUnionStore': { 2: {} },
  // list_ranges (2): _ListRanges { repeated _ListRange ranges = 1 }
  '/cache_client.Scs/ListErase': { 2: { 1: {} } },
  // permissions (3): Permissions { explicit (2): ExplicitPermissions { repeated PermissionsType permissions = 1 } }
  '/token.Token/GenerateDisposableToken': { 3: { 2: { 1: PERMISSION } } },
};

/** The fields (groups' start and end tags included) of a protobuf message, and of the message
 * fields `nesting` names, and how deep its groups and those messages nest, read from the tags
 * alone; stops at the first limit passed. A message that is truncated or invalid is left to the
 * decoder, which fails on it within the same bounds. */
export function protobufShape(bytes: Uint8Array, maxFields: number, maxDepth: number, nesting: Nesting = {}): FrameShape {
  let fields = 0;
  let depth = 0;
  let pos = 0;
  let invalid = false;
  // A varint at `pos`: its value (only tags and lengths are read, < 2^32 when valid), pos moved past it.
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; shift < 64 && pos < bytes.length; shift += 7) {
      const b = bytes[pos++]!;
      if (shift < 32) value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
    }
    return -1;
  };
  // The fields from `pos` to `end`; a problem, or undefined (invalid set where it stopped early).
  const walk = (end: number, nested: Nesting): FrameShape['problem'] => {
    while (pos < end) {
      const tag = varint();
      if (tag < 0) { invalid = true; return undefined; }
      if (++fields > maxFields) return 'elements';
      const wireType = tag % 8;
      if (wireType === 0) { if (varint() < 0) { invalid = true; return undefined; } }
      else if (wireType === 1) pos += 8;
      else if (wireType === 2) {
        const length = varint();
        if (length < 0) { invalid = true; return undefined; }
        const inner = nested[Math.floor(tag / 8)];
        if (inner === undefined || pos + length > end) { pos += length; continue; }
        const stop = pos + length;
        if (++depth > maxDepth) return 'depth';
        const problem = walk(stop, inner);
        if (problem || invalid) return problem;
        depth--;
        pos = stop;
      }
      else if (wireType === 5) pos += 4;
      else if (wireType === 3) { if (++depth > maxDepth) return 'depth'; }
      else if (wireType === 4) depth--;
      else { invalid = true; return undefined; }
    }
    return undefined;
  };
  const problem = walk(bytes.length, nesting);
  return problem ? { problem } : { elements: fields };
}

/** Stands in for a decoded request refused for its shape; the method's guard answers it. */
class RefusedMessage {
  constructor(readonly error: TidingsError) {}
}

type Handler = UntypedServiceImplementation[string];
type Call = Pick<ServerUnaryCall<unknown, unknown>, 'request' | 'getPeer' | 'metadata'> & { address?: string; emit(event: 'error', err: unknown): boolean };

/** One method with the shape limits in front: its deserializer counts the message first (a
 * refused one is never decoded), its handler answers a refused message with the typed status and
 * charges a large one to the caller address's request bucket by its fields
 * (limits.requestElementsPerOp), as a WebSocket frame of as many values would be. */
export function shapeGuarded(definition: MethodDefinition<unknown, unknown>, handler: Handler, deps: Pick<GrpcDeps, 'broker' | 'config'>): { definition: MethodDefinition<unknown, unknown>; handler: Handler } {
  const limits: RequestShapeLimits = deps.config.server;
  const fieldsOf = new WeakMap<object, number>();
  const nesting = NESTED[definition.path] ?? {};
  const requestDeserialize = (bytes: Buffer): unknown => {
    const shape = protobufShape(bytes, limits.maxRequestElements, limits.maxRequestDepth, nesting);
    if (shape.problem) return new RefusedMessage(shapeRefusal(shape.problem, limits));
    const message = definition.requestDeserialize(bytes);
    if (typeof message === 'object' && message !== null) fieldsOf.set(message, shape.elements);
    return message;
  };
  const refusal = (call: Call): TidingsError | undefined => {
    if (call.request instanceof RefusedMessage) return call.request.error;
    const fields = typeof call.request === 'object' && call.request !== null ? fieldsOf.get(call.request) ?? 0 : 0;
    const { requestElementsPerOp, connectionOpsBurst } = deps.config.limits;
    const ops = Math.min(requestOps(fields, requestElementsPerOp), connectionOpsBurst);
    // The one request every call costs is charged when it runs; its tokenId is not known yet.
    return ops > 1 ? deps.broker.limits.admitRequest(callerAddress(call, deps.config.server.trustedProxyHeader), undefined, ops - 1) : undefined;
  };
  const guarded = (call: Call, callback?: sendUnaryData<unknown>) => {
    const refused = refusal(call);
    if (!refused) return (handler as (call: Call, callback?: sendUnaryData<unknown>) => void)(call, callback);
    if (callback) callback(toStatus(refused));
    else call.emit('error', toStatus(refused));
  };
  return { definition: { ...definition, requestDeserialize }, handler: guarded as unknown as Handler };
}
