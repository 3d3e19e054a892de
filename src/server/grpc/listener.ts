/** The Momento-compatible gRPC listener (docs/momento-compat.md): a grpc-js HTTP/2 server on its own
 * port, built from @gomomento/generated-types service definitions, every call going through
 * Broker.dispatch. Methods not implemented are answered UNIMPLEMENTED with the reason (methods.ts). */
import {
  Metadata, Server, ServerCredentials, status, type sendUnaryData, type ServerWritableStream, type ServiceDefinition, type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import type { GrpcDeps } from './calls.js';
import { TidingsError } from '../../core/errors.js';
import { ErrorCode } from '../../protocol/index.js';
import { scsService } from './scs.js';
import { pubsubService } from './pubsub.js';
import { controlService, pingService, tokenService } from './admin.js';
import { MOMENTO_SERVICES, methodsOf, unimplementedMessage, type MomentoServiceSpec } from './methods.js';
import { hostPort } from '../../lib/host-port.js';
import { closeUnlessOpened } from './opening-timeout.js';
import { ConnectionsPerAddress } from './connections-per-address.js';
import { shapeGuarded } from './message-shape.js';
import { requestGate } from './request-gate.js';

export interface MomentoListener {
  readonly port: number;
  /** Stops accepting calls, lets those in flight finish, and cuts what is left after `graceMs`. */
  close(graceMs: number): Promise<void>;
}

/** Subscribe writes items serialized once per publish (pubsub.ts); pass those bytes through. */
function withPreserializedStream(definition: ServiceDefinition, method: string): ServiceDefinition {
  const original = definition[method]!;
  return {
    ...definition,
    [method]: {
      ...original,
      responseSerialize: (message: unknown) =>
        message instanceof Uint8Array ? Buffer.from(message.buffer, message.byteOffset, message.byteLength) : original.responseSerialize(message),
    },
  };
}

/** One gRPC service: its generated definition and our implementation (shared by the HTTP/2
 * listener and the grpc-web-text routes). */
export interface MomentoService { name: string; definition: ServiceDefinition; implementation: UntypedServiceImplementation }

/** Answers a method we do not implement: UNIMPLEMENTED with the reason (methods.ts), in the shape
 * its call type expects (unary/client-streaming answer through the callback, streams by 'error'). */
function unimplemented(spec: MomentoServiceSpec, method: string): (call: unknown, callback?: sendUnaryData<unknown>) => void {
  const details = unimplementedMessage(spec, method);
  const error = { code: status.UNIMPLEMENTED, details, metadata: new Metadata() };
  return (call, callback) => {
    if (callback) callback(error);
    else (call as ServerWritableStream<unknown, unknown>).emit('error', error);
  };
}

/** Every service of MOMENTO_SERVICES, with our handlers for the methods it answers and an explained
 * UNIMPLEMENTED for the rest, each behind the request-shape limits (message-shape.ts). Throws if
 * the list and the handlers disagree (a startup bug). */
export function momentoServices(deps: GrpcDeps): MomentoService[] {
  const implementations: Record<string, UntypedServiceImplementation> = {
    'cache_client.Scs': scsService(deps),
    'cache_client.pubsub.Pubsub': pubsubService(deps),
    'token.Token': tokenService(deps),
    'control_client.ScsControl': controlService(deps),
    'cache_client.Ping': pingService(),
  };
  return MOMENTO_SERVICES.map((spec) => {
    const ours = implementations[spec.name] ?? {};
    const implemented = Object.keys(ours).sort();
    if (implemented.join() !== [...spec.answered].sort().join()) throw new Error(`${spec.name}: handlers (${implemented.join()}) differ from methods.ts (${spec.answered.join()})`);
    const implementation: UntypedServiceImplementation = {};
    const methods: Record<string, ServiceDefinition[string]> = { ...spec.definition };
    for (const method of methodsOf(spec)) {
      const guarded = shapeGuarded(spec.definition[method]!, (ours[method] ?? unimplemented(spec, method)) as UntypedServiceImplementation[string], deps);
      implementation[method] = guarded.handler;
      methods[method] = guarded.definition;
    }
    const guardedDefinition: ServiceDefinition = methods;
    const definition = spec.name === 'cache_client.pubsub.Pubsub' ? withPreserializedStream(guardedDefinition, 'Subscribe') : guardedDefinition;
    return { name: spec.name, definition, implementation };
  });
}

/** Why the gRPC port could not be bound, in words an operator acts on. */
function bindError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  const where = hostPort(host, port);
  if (err.code === 'EADDRINUSE' || err.code === 'EACCES') {
    return new TidingsError(ErrorCode.SERVER_UNAVAILABLE, `the port is in use (or not permitted); pick another with --momento-port or TIDINGS_MOMENTO_PORT (${where}: ${err.code})`);
  }
  return new TidingsError(ErrorCode.SERVER_UNAVAILABLE, `${err.code ?? 'error'}: ${err.message}`);
}

export async function startMomentoListener(services: MomentoService[], deps: Pick<GrpcDeps, 'broker' | 'grants' | 'config' | 'log'>, host: string, port: number): Promise<MomentoListener> {
  const { config } = deps;
  const server = new Server({
    interceptors: [requestGate(deps.broker, deps.grants, config.momento.requestReadTimeoutMs)],
    'grpc.max_receive_message_length': config.momento.maxMessageBytes,
    // Without it Node advertises 2^32-1: one connection could hold any number of unread answers.
    'grpc.max_concurrent_streams': config.momento.maxConcurrentStreamsPerConnection,
    // No call in flight for this long: GOAWAY and close (grpc-js counts open streams per session,
    // a Subscribe included, and starts counting at the session's creation).
    'grpc.max_connection_idle_ms': config.momento.idleTimeoutMs,
  });
  for (const service of services) server.addService(service.definition, service.implementation);

  // Plaintext: TLS belongs to a terminating proxy (docs/momento-compat.md, "TLS deployments").
  // The socket is ours, its connections handed to grpc-js: a bind failure is then our typed error
  // alone (grpc-js's bindAsync prints a line of its own to stderr before it rejects).
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const perAddress = new ConnectionsPerAddress(config.momento.maxConnectionsPerIp);
  const socket = createNetServer((connection) => {
    if (!perAddress.admit(connection)) return;
    closeUnlessOpened(connection, config.momento.openingTimeoutMs);
    injector.injectConnection(connection);
  });
  // Node closes a connection past this as it arrives (idle HTTP/2 sessions cost memory too).
  socket.maxConnections = config.momento.maxConnections;
  const boundPort = await new Promise<number>((resolve, reject) => {
    socket.once('error', (err: NodeJS.ErrnoException) => reject(bindError(err, host, port)));
    socket.listen({ host, port, exclusive: true }, () => resolve((socket.address() as AddressInfo).port));
  });
  deps.log.info({ host, port: boundPort }, 'momento-compatible grpc listening');
  return {
    port: boundPort,
    close: (graceMs) => new Promise<void>((resolve) => {
      // New calls are refused at once; calls in flight are answered (a Subscribe is ended by the
      // broker's shutdown), and the stop resolves as soon as the last one is: an idle listener
      // stops at once. Whatever is still open after graceMs is cut.
      socket.close();
      const force = setTimeout(() => server.forceShutdown(), graceMs);
      server.tryShutdown(() => { clearTimeout(force); resolve(); });
    }),
  };
}
