/** What a request's shape, counted before it is decoded (protocol/peek.ts frameShape for
 * MessagePack, server/json-body.ts for JSON), may cost: the refusal past server.maxRequestElements
 * or server.maxRequestDepth, and the requests a large one is charged (limits.requestElementsPerOp). */
import { LimitCause } from '../protocol/index.js';
import type { FrameShapeProblem } from '../protocol/peek.js';
import type { ServerConfig } from './config.js';
import { TidingsError, badRequest, limitExceeded } from './errors.js';

export type RequestShapeLimits = Pick<ServerConfig, 'maxRequestElements' | 'maxRequestDepth'>;

/** The typed refusal of a request refused for its shape; `elementsKey` names the limit on values
 * that applied (`limits.maxRequestElements` holds its value). */
export function shapeRefusal(problem: FrameShapeProblem, limits: RequestShapeLimits, elementsKey = 'server.maxRequestElements'): TidingsError {
  if (problem === 'elements') return limitExceeded(LimitCause.REQUEST_ELEMENTS, `the request holds more than ${limits.maxRequestElements} values (${elementsKey}); it was not decoded`);
  if (problem === 'depth') return limitExceeded(LimitCause.REQUEST_DEPTH, `the request nests more than ${limits.maxRequestDepth} maps or arrays deep (server.maxRequestDepth); it was not decoded`);
  return badRequest('MessagePack ext types are not part of the protocol (values are str or bin; only msgpackr\'s undefined, fixext 1 of type 0, is read, as absent)');
}

/** Requests a request of `elements` values is charged: one per `perOp` values, at least one. */
export function requestOps(elements: number, perOp: number): number {
  return Math.max(1, Math.ceil(elements / perOp));
}
