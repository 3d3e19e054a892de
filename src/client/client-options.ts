/** How a TopicClient or CacheClient gets its connection: share one (`{ connection }`, the usual
 * way: everything multiplexed over one socket) or open its own from connection options. */
import { Connection } from './connection.js';
import type { ConnectionOptions } from './options.js';

export type ClientOptions =
  | { connection: Connection; throwOnErrors?: boolean }
  | (ConnectionOptions & { connection?: undefined });

export interface ClientLink {
  connection: Connection;
  /** The client opened the connection, so its close() closes it. */
  owned: boolean;
  throwOnErrors: boolean;
}

export function clientLink(options: ClientOptions): ClientLink {
  if (options.connection) {
    return { connection: options.connection, owned: false, throwOnErrors: options.throwOnErrors ?? options.connection.throwOnErrors };
  }
  const connection = new Connection(options);
  return { connection, owned: true, throwOnErrors: connection.throwOnErrors };
}
