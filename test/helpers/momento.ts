/** The official @gomomento/sdk (Node, gRPC) pointed at a real Tidings server's gRPC listener on
 * 127.0.0.1: a Momento-shaped credential wrapping a Tidings one, with all three endpoints overridden
 * and TLS off (the loopback configuration docs/momento-compat.md documents). */
import type { Test } from 'tap';
import {
  AuthClient, AuthClientConfigurations, CacheClient, Configurations, CredentialProvider, NoopMomentoLoggerFactory, TopicClient,
  TopicConfigurations,
} from '@gomomento/sdk';

/** The SDKs log every client construction at INFO; tests keep their output to assertions. */
const quiet = new NoopMomentoLoggerFactory();
import { cache as momentoCache } from '@gomomento/generated-types';
import { Metadata, credentials as grpcCredentials, makeGenericClientConstructor, status, type ServiceDefinition } from '@grpc/grpc-js';
import { encodeMomentoCredential, PermissionScopes, type Scope } from '../../src/index.js';
import type { TidingsServer } from '../../src/index.js';
import { startServer, type TestServerOptions } from './server.js';

export async function startMomentoServer(t: Test, options: TestServerOptions = {}): Promise<TidingsServer> {
  const config = { ...options.config, momento: { enabled: true, port: 0, ...options.config?.momento } };
  return startServer(t, { ...options, config });
}

export function credentialFor(server: TidingsServer, apiKey: string): CredentialProvider {
  const endpoint = `127.0.0.1:${server.momentoPort!}`;
  return CredentialProvider.fromString({
    apiKey: encodeMomentoCredential({ endpoint, apiKey }),
    endpointOverrides: { cacheEndpoint: endpoint, controlEndpoint: endpoint, tokenEndpoint: endpoint, secureConnection: false },
  });
}

export async function apiKeyFor(server: TidingsServer, scope: Scope = PermissionScopes.allDataReadWrite(), tokenId = 'backend'): Promise<string> {
  return (await server.auth.mintApiKey({ scope, expiresInSec: null, tokenId })).token;
}

export interface MomentoClients { cache: CacheClient; topics: TopicClient; auth: AuthClient; credentials: CredentialProvider }

/** Clients of the official SDK for one credential (a Tidings API key or token, unwrapped). */
export async function momentoClients(t: Test, server: TidingsServer, credential: string): Promise<MomentoClients> {
  const credentials = credentialFor(server, credential);
  const cache = await CacheClient.create({ configuration: Configurations.Laptop.v1(quiet), credentialProvider: credentials, defaultTtlSeconds: 60 });
  const topics = new TopicClient({ configuration: TopicConfigurations.Default.latest(quiet), credentialProvider: credentials });
  const auth = new AuthClient({ configuration: AuthClientConfigurations.Default.latest(quiet), credentialProvider: credentials });
  t.teardown(() => { cache.close(); });
  return { cache, topics, auth, credentials };
}

/** The MomentoErrorCode of an SDK response, or 'not an error' (so a Success fails the assertion). */
export function errorCode(response: object): string {
  const r = response as { errorCode?: () => string };
  return typeof r.errorCode === 'function' ? r.errorCode() : `not an error: ${response.constructor.name}`;
}

/** A plain grpc-js client of cache_client.Scs with `apiKey`, for what no SDK method sends: a call
 * answers its status code and, when OK, the reply. Closed when `t` ends. */
export function scsCall(t: Test, server: TidingsServer, apiKey: string, cacheName = 'app'): <R>(method: string, request: unknown) => Promise<{ code: number; reply?: R }> {
  const Client = makeGenericClientConstructor(momentoCache.cache_client.UnimplementedScsService.definition as ServiceDefinition, 'cache_client.Scs');
  const client = new Client(`127.0.0.1:${server.momentoPort}`, grpcCredentials.createInsecure()) as unknown as Record<string, (...args: unknown[]) => void>;
  t.teardown(() => (client as unknown as { close(): void }).close());
  const metadata = new Metadata();
  metadata.set('authorization', apiKey);
  metadata.set('cache', cacheName);
  return <R>(method: string, request: unknown) => new Promise<{ code: number; reply?: R }>((resolve) => {
    client[method]!(request, metadata, { deadline: Date.now() + 5000 }, (e: { code: number } | null, reply: R) => resolve(e ? { code: e.code } : { code: status.OK, reply }));
  });
}
