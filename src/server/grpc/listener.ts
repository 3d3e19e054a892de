/** The Momento-compatible gRPC listener (docs/momento-compat.md): a grpc-js HTTP/2 server on its own
 * port, built from @gomomento/generated-types service definitions, every call going through
 * Broker.dispatch. Methods not implemented are answered UNIMPLEMENTED by grpc-js. */
import { Server, ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { cache, control, ping, pubsub, token } from '@gomomento/generated-types';
import type { GrpcDeps } from './calls.js';
import { scsService } from './scs.js';
import { pubsubService } from './pubsub.js';
import { controlService, pingService, tokenService } from './admin.js';

export interface MomentoListener {
  readonly port: number;
  close(): Promise<void>;
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

export function momentoServices(deps: GrpcDeps): MomentoService[] {
  const def = (d: unknown) => d as ServiceDefinition;
  return [
    { name: 'cache_client.Scs', definition: def(cache.cache_client.UnimplementedScsService.definition), implementation: scsService(deps) },
    {
      name: 'cache_client.pubsub.Pubsub',
      definition: withPreserializedStream(def(pubsub.cache_client.pubsub.UnimplementedPubsubService.definition), 'Subscribe'),
      implementation: pubsubService(deps),
    },
    { name: 'token.Token', definition: def(token.token.UnimplementedTokenService.definition), implementation: tokenService(deps) },
    { name: 'control_client.ScsControl', definition: def(control.control_client.UnimplementedScsControlService.definition), implementation: controlService(deps) },
    { name: 'cache_client.Ping', definition: def(ping.cache_client.UnimplementedPingService.definition), implementation: pingService() },
  ];
}

export async function startMomentoListener(services: MomentoService[], deps: Pick<GrpcDeps, 'config' | 'log'>, host: string, port: number): Promise<MomentoListener> {
  const { config } = deps;
  const server = new Server({
    'grpc.max_receive_message_length': config.momento.maxMessageBytes,
  });
  for (const service of services) server.addService(service.definition, service.implementation);

  // Plaintext: TLS belongs to a terminating proxy (docs/momento-compat.md, "TLS deployments").
  const boundPort = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${port}`, ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  });
  deps.log.info({ host, port: boundPort }, 'momento-compatible grpc listening');
  return {
    port: boundPort,
    close: () => new Promise<void>((resolve) => {
      // Streams were already ended by the broker's shutdown; give unary calls a moment, then force.
      const force = setTimeout(() => server.forceShutdown(), 1000);
      server.tryShutdown(() => { clearTimeout(force); resolve(); });
    }),
  };
}
