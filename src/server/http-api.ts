/** The HTTP API for backends (docs/http-api.md): publish with one POST, and every cache operation
 * with a JSON body. Each call authenticates with its bearer credential and runs through
 * `Broker.dispatch`, so validation, permissions, limits and publish hooks (moderation) are exactly
 * the WebSocket ones. */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { type GenericRequest, type OperationName, type Value } from '../protocol/index.js';
import { invalidArgument, notFound } from '../core/errors.js';
import type { RequestShapeLimits } from '../core/request-shape.js';
import type { Logger } from '../core/logger.js';
import type { Broker } from '../engine/broker.js';
import { DISPATCH_ONLY } from '../engine/session.js';
import { readTypedBody } from './http-body.js';
import { parseJsonObject } from './json-body.js';
import type { BodyBudget } from './body-budget.js';
import { bearer, jsonRoute, type Cors, type JsonReply } from './http-common.js';
import { fromJsonValue, toJsonValue } from './json-events.js';
import { requestAddress } from './admission.js';

/** Operations a stateless call may run: every one that does not belong to a session (subscribe,
 * moderator membership and settling are tied to a live connection). */
export const HTTP_OPERATIONS: ReadonlySet<OperationName> = new Set<OperationName>([
  'pub', 'pubAppend', 'retract',
  'listPushBack', 'listPushFront', 'listConcatenateBack', 'listConcatenateFront', 'listFetch', 'listRetain', 'listRemoveValue',
  'listPopBack', 'listPopFront', 'listLength', 'listErase', 'get', 'set', 'delete', 'itemGetTtl', 'updateTtl', 'increaseTtl', 'decreaseTtl', 'increment', 'setIf',
  'getWithHash', 'setIfHash',
  'itemGetType', 'dictionarySetFields', 'dictionaryGetFields', 'dictionaryFetch', 'dictionaryIncrement', 'dictionaryRemoveFields', 'dictionaryLength',
  'setAddElements', 'setRemoveElements', 'setFetch', 'setContainsElements', 'setLength', 'setPop', 'setSample',
  'sortedSetPutElements', 'sortedSetFetchByRank', 'sortedSetFetchByScore', 'sortedSetGetScores', 'sortedSetGetRank', 'sortedSetIncrementScore',
  'sortedSetRemoveElements', 'sortedSetLength', 'sortedSetLengthByScore', 'sortedSetUnionStore',
]);

export interface HttpApiDeps { broker: Broker; log: Logger; cors: Cors; maxBodyBytes: number; shape: RequestShapeLimits; bodies: BodyBudget; trustedProxyHeader: string }

export function mountHttpApi(app: TemplatedApp, deps: HttpApiDeps): void {
  const { broker, log, cors, maxBodyBytes, shape, bodies, trustedProxyHeader } = deps;

  /** Checks the credential, reads the body, dispatches the request `build(body)` makes of it on a
   * per-call session, charged for the values it holds (`elements`) as a frame of them would be. */
  const call = (res: HttpResponse, req: HttpRequest, build: (body: Buffer) => { request: GenericRequest; elements: number }, shapeResult: (result: unknown) => unknown) => {
    const authorization = req.getHeader('authorization');
    const corsHeaders = cors.headers(req.getHeader('origin'));
    // Every call is its own session: its request rate is charged to the client address (as for
    // gRPC calls), else a fresh per-connection bucket per call would never run dry.
    const rateKey = requestAddress(res, req, trustedProxyHeader);
    const lease = bodies.lease(res, req);
    jsonRoute(res, log, async (aborted): Promise<JsonReply> => {
      // The credential before the body: an unauthenticated caller is answered without the server
      // reading (or holding) its upload; the session opens with that grant once the body is in,
      // checked again for expiry and revocation meanwhile.
      const token = bearer(authorization);
      const grant = broker.verifyCredential(token);
      const body = await readTypedBody(res, maxBodyBytes, aborted, lease);
      const session = await broker.openAuthenticated(DISPATCH_ONLY, grant, rateKey);
      try {
        // Charged before the body is parsed, so a refused body costs its request like any other.
        const overCallRate = broker.chargeCall(session);
        if (overCallRate) throw overCallRate;
        const { request, elements } = build(body);
        const overRate = broker.chargeElements(session, elements);
        if (overRate) throw overRate;
        return { status: '200 OK', body: shapeResult(await broker.dispatch(session, request, 'http')) };
      } finally {
        broker.closed(session);
      }
    }, corsHeaders, lease);
  };

  app.post('/v1/topics/:cache/:topic', (res, req) => {
    const cache = pathParameter(req, 0);
    const topic = pathParameter(req, 1);
    const contentType = req.getHeader('content-type');
    // The HTTP convention for a retry-safe POST; the same key as the protocol's idempotencyKey.
    const idempotencyKey = req.getHeader('idempotency-key');
    call(res, req, (body) => ({ request: { t: 'pub', id: 0, cache: cache(), topic: topic(), value: bodyValue(body, contentType), ...(idempotencyKey ? { idempotencyKey } : {}) }, elements: 1 }), (r) => r);
  });

  app.post('/v1/cache/:cache/:operation', (res, req) => {
    const cache = pathParameter(req, 0);
    const operation = req.getParameter(1) ?? '';
    call(res, req, (body) => {
      if (!HTTP_OPERATIONS.has(operation as OperationName) || operation === 'pub') {
        throw notFound(`no HTTP operation "${operation}"; see docs/http-api.md`);
      }
      const { args, elements } = jsonArguments(body, shape);
      // Fields the path names, or the transport owns, are not the body's to set: written last.
      return { request: { ...args, t: operation, id: 0, cache: cache() }, elements };
    }, jsonResult);
  });
}

/** A path segment, percent-decoded when the call runs: read now (uWS invalidates `req` once the
 * handler returns), refused then with a typed error if it is not valid percent-encoding (taken as
 * sent, `a%zz` would name the topic `a%25zz` names). */
function pathParameter(req: HttpRequest, index: number): () => string {
  const raw = req.getParameter(index) ?? '';
  return () => {
    try {
      return decodeURIComponent(raw);
    } catch {
      throw invalidArgument('a path segment is not valid percent-encoding (send % as %25)');
    }
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A publish body: text/plain is text (UTF-8), application/octet-stream is bytes. */
function bodyValue(body: Buffer, contentType: string): Value {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (type === 'application/octet-stream') return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (type === 'text/plain' || type === '') {
    try {
      return utf8.decode(body);
    } catch {
      throw invalidArgument('a text/plain body must be valid UTF-8 (send bytes as application/octet-stream)');
    }
  }
  throw invalidArgument(`unsupported content-type "${type}": send text/plain or application/octet-stream`);
}

/** A JSON body's named arguments, and the values it holds; `value`, `values`, `elements` (or a sorted
 * set's `elements[i].value`), `compare`, `hash` and each `items[i].value` may be `{ "base64": "…" }` for bytes. */
function jsonArguments(body: Buffer, shape: RequestShapeLimits): { args: Record<string, unknown>; elements: number } {
  const { value: parsed, elements } = parseJsonObject(body, shape, true);
  const args = { ...parsed };
  if ('value' in args) args['value'] = fromJsonValue(args['value'], 'value');
  for (const field of ['compare', 'hash']) {
    if (field in args && args[field] !== null) args[field] = fromJsonValue(args[field], field);
  }
  for (const field of ['values', 'elements']) {
    if (args[field] === undefined || args[field] === null) continue;
    const list = args[field];
    if (!Array.isArray(list)) throw invalidArgument(`${field} must be an array`);
    args[field] = list.map((v, i) => (isScored(v) ? { ...v, value: fromJsonValue(v.value, `${field}[${i}].value`) } : fromJsonValue(v, `${field}[${i}]`)));
  }
  if (Array.isArray(args['items'])) {
    args['items'] = args['items'].map((item: unknown, i) => (typeof item === 'object' && item !== null && 'value' in item
      ? { ...item, value: fromJsonValue(item.value, `items[${i}].value`) }
      : item));
  }
  return { args, elements };
}

/** A sorted-set element ({ value, score }), not a value ({ base64 } or bytes). */
function isScored(v: unknown): v is { value: unknown } {
  return typeof v === 'object' && v !== null && !(v instanceof Uint8Array) && 'value' in v;
}

/** A result with its values made JSON-safe (binary as `{ "base64": "…" }`). */
function jsonResult(result: unknown): unknown {
  if (typeof result !== 'object' || result === null) return result;
  const r = result as Record<string, unknown>;
  const out: Record<string, unknown> = { ...r };
  // increment's `value` is a number, already JSON.
  if (r['value'] !== undefined && typeof r['value'] !== 'number') out['value'] = toJsonValue(r['value'] as Value);
  // dictionaryGetFields answers null for a field the dictionary lacks.
  if (Array.isArray(r['values'])) out['values'] = r['values'].map((v) => (v === null ? null : toJsonValue(v as Value)));
  // A set's elements are bytes; a sorted set's, { value: bytes, score }.
  if (Array.isArray(r['elements'])) out['elements'] = r['elements'].map((v) => (isScored(v) ? { ...v, value: toJsonValue(v.value as Value) } : toJsonValue(v as Value)));
  if (Array.isArray(r['items'])) out['items'] = r['items'].map((item: Record<string, unknown>) => ({ ...item, value: toJsonValue(item['value'] as Value) }));
  return out;
}
