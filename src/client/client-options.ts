/** How a TopicClient or CacheClient gets its connection: share one (`{ connection }`, the usual
 * way: everything multiplexed over one socket) or open its own from connection options. */
import { Connection } from './connection.js';
import type { ConnectionOptions, WebSocketConstructor } from './options.js';
import type { Configuration, CredentialProvider } from './momento-config.js';

/** Momento's construction shape: `{ configuration, credentialProvider }`. The URL comes from the
 * credential provider's endpoint (or `url`); in Node give `webSocket` too (Node 20 has none built in). */
export interface MomentoStyleOptions {
  credentialProvider: CredentialProvider;
  configuration?: Configuration;
  url?: string;
  webSocket?: WebSocketConstructor;
  connection?: undefined;
}

export type ClientOptions =
  | { connection: Connection; throwOnErrors?: boolean }
  | (ConnectionOptions & { connection?: undefined; credentialProvider?: undefined })
  | MomentoStyleOptions;

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
  const connection = new Connection(options.credentialProvider ? fromMomentoStyle(options) : options);
  return { connection, owned: true, throwOnErrors: connection.throwOnErrors };
}

function fromMomentoStyle(options: MomentoStyleOptions): ConnectionOptions {
  const url = options.url ?? options.credentialProvider.getCacheEndpoint();
  if (!url) throw new TypeError('no Tidings URL: give CredentialProvider endpointOverrides: { baseEndpoint: "https://broker.example" }, or url');
  return {
    url,
    token: options.credentialProvider.getAuthToken(),
    ...options.configuration?.connectionOptions(),
    ...(options.webSocket ? { webSocket: options.webSocket } : {}),
  };
}
