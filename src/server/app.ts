/** Composition root: config -> logger, tokens, engine, broker -> uWS app listening on host:port. */
import uWS, { type HttpRequest, type HttpResponse, type TemplatedApp, type us_listen_socket } from 'uWebSockets.js';
import { CloseCode, PermissionScopes } from '../protocol/index.js';
import { resolveConfig, type DeepPartial, type TidingsConfig } from '../core/config.js';
import { systemClock, type Clock } from '../core/clock.js';
import { createLogger, type Logger } from '../core/logger.js';
import { notFound } from '../core/errors.js';
import { TokenAuthority, generateSigningKey, type RevokeRequest } from '../auth/tokens.js';
import { covers, type Revocation, type RevocationList } from '../auth/revocation.js';
import { Broker } from '../engine/broker.js';
import { createEngine } from '../engine/select-engine.js';
import type { Engine } from '../engine/engine.js';
import type { BrokerDeps, HandlerTable } from '../engine/handler.js';
import { assertNativeUws } from './native.js';
import { mountWebSocket } from './ws-handlers.js';
import { NativeBatching } from './native-batching.js';
import { mountHttpRoutes } from './http-routes.js';
import { mountReadiness } from './readiness.js';
import { mountMetrics } from './metrics.js';
import { RequestHistogram } from './request-histogram.js';
import { TransportCounters } from './transport-counters.js';
import { Cors, errorReply, writeJson } from './http-common.js';
import { startupFields } from './startup-log.js';
import { mountHttpApi } from './http-api.js';
import { JsFanout } from './js-fanout.js';
import { mountLongPoll } from './long-poll.js';
import { mountSdkStream } from './sdk-stream.js';
import { mountSse } from './sse.js';
import { TicketBook } from './tickets.js';
import type { MomentoListener, MomentoService } from './grpc/listener.js';
import { BodyBudget } from './body-budget.js';
import { endText } from './static-files.js';
import { hostPort } from '../lib/host-port.js';
import type { Registry } from 'prom-client';
import { IdentityLimits } from '../limits/identity-limits.js';

export interface CreateServerOptions {
  config?: DeepPartial<TidingsConfig>;
  clock?: Clock;
  /** Defaults to a pino logger at config.logLevel on stdout. */
  logger?: Logger;
  /** Defaults to the engine config.engine names (memory unless configured). */
  engine?: Engine;
  /** Revoked credentials; defaults to the engine's (engine redis: shared by every node), else one
   * in memory for this node only. */
  revocations?: RevocationList;
}

export interface TidingsServer {
  readonly config: Readonly<TidingsConfig>;
  readonly port: number;
  readonly host: string;
  /** ws://host:port/v1/ws (an IPv6 host in brackets) */
  readonly wsUrl: string;
  /** http://host:port (an IPv6 host in brackets) */
  readonly httpUrl: string;
  readonly auth: TokenAuthority;
  readonly clock: Clock;
  readonly broker: Broker;
  readonly engine: Engine;
  /** WebSocket fan-out batching (native-batching.ts): batch frames sent and the items in them. */
  readonly batching: { readonly stats: { readonly batches: number; readonly batchedItems: number } };
  /** Transport events the broker never sees (cut-off connections, refused upgrades). */
  readonly transport: TransportCounters;
  /** Request-body bytes in flight, within server.maxInFlightBodyBytes (body-budget.ts). */
  readonly bodies: BodyBudget;
  readonly logger: Logger;
  /** Port of the Momento-compatible gRPC listener; undefined when momento.enabled is off. */
  readonly momentoPort: number | undefined;
  /** Dev mode only: an API key with every data permission, minted at start. */
  readonly adminApiKey: string | undefined;
  /** Revokes credentials (docs/tokens.md, "Revocation"); open connections using them get `bye`
   * 4504 and are closed before this resolves. */
  revoke(request: RevokeRequest): Promise<Revocation>;
  /** Tells every client, closes every connection and the listener. */
  close(): Promise<void>;
}

/** Extension points for feature modules, called in this order: `setup` (create the feature's state,
 * register publish hooks: before anything can publish), `handlers` (extra request handlers),
 * `wire` (the broker exists: observe subscriptions), `routes` (HTTP routes; `broker` serves routes
 * that authenticate per call and dispatch; `bodies`, the budget a route reads request bodies
 * under), `metrics` (extra series on /metrics), and `started`,
 * work that runs once the server listens (its returned stop function runs first when the server
 * closes). All but `started` run before the server listens. */
export interface ServerFeature {
  setup?(deps: BrokerDeps): void;
  handlers?(deps: BrokerDeps): HandlerTable;
  wire?(broker: Broker, deps: BrokerDeps): void;
  routes?(app: TemplatedApp, deps: BrokerDeps, broker: Broker, bodies: BodyBudget): void;
  metrics?(registry: Registry): void;
  started?(server: TidingsServer): Promise<(() => Promise<void>) | void>;
}

export async function createServer(options: CreateServerOptions = {}, features: ServerFeature[] = []): Promise<TidingsServer> {
  assertNativeUws();
  const config = resolveConfig(options.config);
  const clock = options.clock ?? systemClock;
  const log = options.logger ?? createLogger({ level: config.logLevel });
  const signingKeys = config.auth.signingKeys.length > 0 ? config.auth.signingKeys : [generateSigningKey()];
  const engine = options.engine ?? await createEngine(config, clock, log);
  // Engine redis shares revocations between nodes; otherwise this server keeps its own.
  let auth: TokenAuthority;
  try {
    auth = new TokenAuthority(config.auth, signingKeys, clock, options.revocations ?? engine.revocations);
  } catch (err) {
    if (!options.engine) await engine.close();
    throw err;
  }
  const requestTimes = config.server.requestHistogram ? new RequestHistogram() : undefined;
  const deps: BrokerDeps = { config, engine, auth, clock, log, limits: new IdentityLimits(config.limits, clock), ...(requestTimes ? { requestTimes } : {}) };
  for (const feature of features) feature.setup?.(deps);
  const broker = new Broker(deps, features.flatMap((f) => (f.handlers ? [f.handlers(deps)] : [])));
  for (const feature of features) feature.wire?.(broker, deps);

  const app = uWS.App();
  const transport = new TransportCounters();
  // Native fan-out coalesces under load (native-batching.ts); the JS fan-out sends at once.
  const batching = new NativeBatching((key, frame) => { app.publish(key, frame, true); }, config.server, clock);
  const admission = mountWebSocket(app, broker, config.server, log, transport, batching);
  const cors = new Cors(config.server.corsOrigins, config.http.corsMaxAgeSec);
  // SSE, long-poll and the SDK's HTTP stream cannot join uWS topics: they sit in this JS index,
  // which every publish walks too.
  const jsFanout = new JsFanout();
  cors.mount(app);
  // Known once the gRPC listener is bound (after the routes are mounted).
  let momentoEndpoint: string | undefined;
  // Every route that reads a request body reads it within this one budget.
  const bodies = new BodyBudget(config.server.maxInFlightBodyBytes, config.server.maxInFlightBodyBytesPerIp, config.server.trustedProxyHeader);
  mountHttpRoutes(app, { auth, log, maxBodyBytes: config.server.maxHttpBodyBytes, shape: config.server, bodies, cors, admitMint: (minter) => broker.admitMint(minter), momentoEndpoint: () => momentoEndpoint });
  mountReadiness(app, engine);
  mountHttpApi(app, { broker, log, cors, maxBodyBytes: config.server.maxHttpBodyBytes, shape: config.server, bodies, trustedProxyHeader: config.server.trustedProxyHeader });
  const tickets = new TicketBook(config.http.ticketTtlMs, config.http.maxTickets, clock, config.http.maxTicketsPerCredential);
  mountSse(app, { broker, auth, fanout: jsFanout, tickets, admission, cors, log, config });
  mountLongPoll(app, { broker, fanout: jsFanout, admission, cors, log, clock, config });
  mountSdkStream(app, { broker, fanout: jsFanout, cors, log, config, admission, bodies });
  mountMetrics(app, { broker, engine, transport, config, auth, log, bodies, requestTimes, extra: features.flatMap((f) => (f.metrics ? [(registry: Registry) => f.metrics!(registry)] : [])) });
  // The Momento-compatible services: on their own HTTP/2 port (grpc-js), and as grpc-web-text on
  // this HTTP/1.1 server for the web SDK. One set of handlers serves both.
  let services: MomentoService[] = [];
  let startMomentoListener: ((host: string, port: number) => Promise<MomentoListener>) | undefined;
  if (config.momento.enabled) {
    // Loaded only when enabled: grpc-js and Momento's generated types take ~0.4 s of CPU to load,
    // which every start without them (the default) would pay.
    const [listener, { mountGrpcWeb }, { VerifiedGrants }] = await Promise.all([import('./grpc/listener.js'), import('./grpc/web.js'), import('./grpc/calls.js')]);
    const grants = new VerifiedGrants();
    startMomentoListener = (host, port) => listener.startMomentoListener(services, { broker, grants, config, log }, host, port);
    services = listener.momentoServices({ broker, auth, config, log, fanout: jsFanout, grants, endpoint: () => momentoEndpoint ?? hostPort(config.server.host, config.momento.port) });
    mountGrpcWeb(app, services, { config, log, bodies, broker, clock });
  }
  // Entries added here or (with a shared list) on another node close this node's connections.
  const unsubscribeRevocations = auth.revocations.subscribe((entry) => {
    for (const session of [...broker.sessions.values()]) {
      if (session.grant && covers(entry, session.grant)) broker.bye(session, CloseCode.REVOKED, 'credential revoked');
    }
  });
  for (const feature of features) feature.routes?.(app, deps, broker, bodies);
  // A client of the HTTP API reads every error from its JSON envelope, so a path or method under
  // /v1/ that no route serves is a NOT_FOUND_ERROR too (HEAD and OPTIONS keep their own answers).
  const noRoute = (res: HttpResponse, req: HttpRequest) => {
    writeJson(res, errorReply(notFound(`no route ${req.getMethod().toUpperCase()} ${req.getUrl().slice(0, 200)}; see docs/http-api.md`), log), cors.headers(req.getHeader('origin')));
  };
  for (const method of ['get', 'post', 'put', 'del', 'patch'] as const) app[method]('/v1/*', noRoute);
  // HEAD answers never carry a body (static-files.ts getAndHead says why).
  app.head('/*', (res) => endText(res, '404 Not Found', 'not found', true));
  app.any('/*', (res) => endText(res, '404 Not Found', 'not found'));
  // A start that fails lets go of all it opened (an app embedding createServer() goes on):
  // the engine's Redis connections, shards that started included, and the revocation subscription.
  const abandonStart = async () => {
    unsubscribeRevocations();
    (app as TemplatedApp & { close(): void }).close();
    await broker.close();
  };
  try {
    await broker.start({
      publish: (key, frame) => { batching.send(key, frame); jsFanout.publish(key, frame); },
      sendTo: (connectionId, frame) => { broker.sessions.get(connectionId)?.connection.send(frame); },
      flush: () => batching.flushAll(),
    });
  } catch (err) {
    await abandonStart();
    throw err;
  }

  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    // uWS listens with SO_REUSEPORT unless told otherwise, and a second server on a busy port then
    // starts and silently shares it: listen exclusively unless sharing was asked for.
    // The (host, port, options, cb) form and the constant exist at runtime but not in this version's types.
    const uws = uWS as typeof uWS & { LIBUS_LISTEN_EXCLUSIVE_PORT: number };
    const listen = app.listen.bind(app) as unknown as (host: string, port: number, options: number, cb: (socket: us_listen_socket | false) => void) => void;
    listen(config.server.host, config.server.port, config.server.reusePort ? 0 : uws.LIBUS_LISTEN_EXCLUSIVE_PORT, (socket) => {
      if (socket) resolve(socket);
      else {
        void abandonStart().finally(() => reject(new Error(`could not listen on ${hostPort(config.server.host, config.server.port)}: the port is in use (or not permitted); pick another with --port or TIDINGS_PORT (server.reusePort shares it, for nodes of one deployment only)`)));
      }
    });
  });
  const port = uWS.us_socket_local_port(listenSocket);
  const host = config.server.host;
  let momento: MomentoListener | undefined;
  if (startMomentoListener) {
    try {
      momento = await startMomentoListener(host, config.momento.port);
      momentoEndpoint = config.momento.endpoint || hostPort(host, momento.port);
    } catch (err) {
      uWS.us_listen_socket_close(listenSocket);
      await abandonStart();
      throw new Error(`could not start the gRPC listener on ${hostPort(host, config.momento.port)}: ${(err as Error).message}`);
    }
  }
  const adminApiKey = config.dev
    ? (await auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null, tokenId: 'admin' })).token
    : undefined;
  log.info(startupFields(config, { host, port, momentoPort: momento?.port }), 'tidings listening');

  let closing: Promise<void> | undefined;
  const stops: Array<() => Promise<void>> = [];
  const server: TidingsServer = {
    config, port, host, auth, clock, broker, engine, transport, bodies, batching, adminApiKey, logger: log, momentoPort: momento?.port,
    revoke: (request) => auth.revoke(request),
    wsUrl: `ws://${hostPort(host, port)}/v1/ws`,
    httpUrl: `http://${hostPort(host, port)}`,
    close() {
      closing ??= (async () => {
        for (const stop of stops.splice(0).reverse()) await stop().catch((err: unknown) => log.error({ err }, 'feature stop failed'));
        unsubscribeRevocations();
        // Stop accepting first, then let every connection drain (server.shutdownGraceMs).
        uWS.us_listen_socket_close(listenSocket);
        // The gRPC listener drains alongside the broker, within the same server.shutdownGraceMs:
        // unary calls in flight are answered, and the broker's shutdown ends every Subscribe
        // stream (UNAVAILABLE), so the listener stops once they are, not after a fixed wait.
        const grpcStopped = momento?.close(config.server.shutdownGraceMs);
        await broker.shutdown();
        await grpcStopped;
        // close() drops idle keep-alive sockets too; it exists at runtime but not in this version's types.
        (app as TemplatedApp & { close(): void }).close();
        await broker.close();
        log.info('tidings stopped');
      })();
      return closing;
    },
  };
  for (const feature of features) {
    const stop = await feature.started?.(server);
    if (stop) stops.push(stop);
  }
  return server;
}
