/** The official Momento SDKs the conformance suites run with, side by side: @gomomento/sdk (Node,
 * gRPC over HTTP/2 to the momento listener) and @gomomento/sdk-web (grpc-web-text over HTTP/1.1 to
 * the main port, under Node with the shims in xhr-shim.ts). Cases take an SDK and ask it for
 * clients; they compare responses by their `type` strings ('Hit', 'Miss', 'Success', 'Error', ...),
 * which both SDKs share, since each SDK has its own response classes. Typed with the Node SDK's
 * classes: the web SDK has the same methods. */
import type { Test } from 'tap';
import * as node from '@gomomento/sdk';
import type { AuthClient, CacheClient, TopicClient } from '@gomomento/sdk';
import * as web from '@gomomento/sdk-web';
import { encodeMomentoCredential, type TidingsServer } from '../../src/index.js';
import { momentoClients } from './momento.js';
import { installWebSdkGlobals } from './xhr-shim.js';

export interface SdkClients { cache: CacheClient; topics: TopicClient; auth: AuthClient }

export interface MomentoSdk {
  name: 'node-sdk' | 'web-sdk';
  /** The SDK's own module, for values it compares by identity (AllDataReadWrite, ExpiresIn, scopes). */
  lib: typeof node;
  /** Clients for a Tidings API key or token (unwrapped). */
  clients(t: Test, server: TidingsServer, credential: string): Promise<SdkClients>;
}

const quietWeb = new web.NoopMomentoLoggerFactory();

export const nodeSdk: MomentoSdk = {
  name: 'node-sdk',
  lib: node,
  clients: async (t, server, credential) => {
    const clients = await momentoClients(t, server, credential);
    return { ...clients, topics: unsubscribedAtTeardown(t, clients.topics) };
  },
};

export const webSdk: MomentoSdk = {
  name: 'web-sdk',
  lib: web as unknown as typeof node,
  clients: async (t, server, credential) => {
    installWebSdkGlobals();
    // The web SDK takes http:// URLs (and adds https:// to anything else); all three on the main port.
    const endpoint = server.httpUrl;
    const credentialProvider = web.CredentialProvider.fromString({
      apiKey: encodeMomentoCredential({ endpoint: `127.0.0.1:${server.momentoPort}`, apiKey: credential }),
      endpointOverrides: { cacheEndpoint: endpoint, controlEndpoint: endpoint, tokenEndpoint: endpoint, secureConnection: false },
    });
    const cache = new web.CacheClient({ configuration: web.Configurations.Laptop.v1(quietWeb), credentialProvider, defaultTtlSeconds: 60 });
    const topics = new web.TopicClient({ configuration: web.TopicConfigurations.Default.latest(quietWeb), credentialProvider });
    const auth = new web.AuthClient({ credentialProvider });
    return { cache, topics: unsubscribedAtTeardown(t, topics as unknown as TopicClient), auth } as unknown as SdkClients;
  },
};

/** Ends every subscription the case opened when it ends, passed or not: a live one keeps
 * resubscribing to the stopped server and holds the file open until tap's timeout. */
function unsubscribedAtTeardown(t: Test, topics: TopicClient): TopicClient {
  const subscribe = topics.subscribe.bind(topics);
  topics.subscribe = async (...args: Parameters<TopicClient['subscribe']>) => {
    const response = await subscribe(...args);
    const live = response as { unsubscribe?: () => void };
    if (typeof live.unsubscribe === 'function') t.teardown(() => live.unsubscribe!());
    return response;
  };
  return topics;
}

export const SDKS: readonly MomentoSdk[] = [nodeSdk, webSdk];

/** The `type` of an SDK response ('Hit', 'Miss', 'Success', 'Subscription', 'Error', ...). */
export function kind(response: unknown): string {
  return String((response as { type?: unknown }).type);
}
