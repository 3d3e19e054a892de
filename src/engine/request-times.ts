/** Where the broker reports how long each request took (server/request-histogram.ts exports them
 * as tidings_request_duration_seconds). */

/** The transport a request came over: the WebSocket, HTTP (the API, SSE and long-poll subscribes),
 * gRPC (and gRPC-web). */
export type Transport = 'ws' | 'http' | 'grpc';

export interface RequestTimes {
  /** A request answered. `op`: an operation the server serves, or `unknown`; `started`: the
   * `performance.now()` of its arrival. */
  observe(op: string, transport: Transport, started: number): void;
}
