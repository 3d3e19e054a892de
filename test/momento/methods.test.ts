/** Every method of every gRPC service in @gomomento/generated-types, called through a real listener
 * (HTTP/2) and through grpc-web-text: the ones methods.ts lists as answered answer something other
 * than UNIMPLEMENTED, every other one answers UNIMPLEMENTED with its reason. The services are found
 * by walking the package's exports, not taken from methods.ts, so a service or method the package
 * gains (or we forget) fails here. */
import t from 'tap';
import * as generated from '@gomomento/generated-types';
import { Metadata, makeGenericClientConstructor, status, type ServiceDefinition } from '@grpc/grpc-js';
import { credentials } from '@grpc/grpc-js';
import { MOMENTO_SERVICES, reasonNotAnswered } from '../../src/server/grpc/methods.js';
import { apiKeyFor, startMomentoServer } from '../helpers/momento.js';

/** Every `Unimplemented*Service` the package exports: gRPC service name -> definition. */
function generatedServices(): Map<string, ServiceDefinition> {
  const found = new Map<string, ServiceDefinition>();
  const seen = new Set<unknown>();
  const walk = (o: unknown) => {
    if (!o || typeof o !== 'object' || seen.has(o)) return;
    seen.add(o);
    for (const [key, value] of Object.entries(o)) {
      const definition = (value as { definition?: ServiceDefinition } | undefined)?.definition;
      if (typeof value === 'function' && key.startsWith('Unimplemented') && definition) {
        found.set(Object.values(definition)[0]!.path.split('/')[1]!, definition);
      } else walk(value);
    }
  };
  walk(generated);
  return found;
}

const emptyRequest = (method: ServiceDefinition[string]) => method.requestDeserialize(Buffer.alloc(0));

t.test('momento methods - every generated method is answered or answers UNIMPLEMENTED with a reason', async (t) => {
  const server = await startMomentoServer(t);
  const apiKey = await apiKeyFor(server);
  const services = generatedServices();
  t.same([...services.keys()].sort(), MOMENTO_SERVICES.map((s) => s.name).sort(), 'methods.ts covers exactly the generated services');

  const metadata = new Metadata();
  metadata.set('authorization', apiKey);
  metadata.set('cache', 'app');
  for (const spec of MOMENTO_SERVICES) {
    const definition = services.get(spec.name)!;
    t.same(Object.keys(definition), Object.keys(spec.definition), `${spec.name}: same methods`);
    const Client = makeGenericClientConstructor(definition, spec.name);
    const client = new Client(`127.0.0.1:${server.momentoPort}`, credentials.createInsecure()) as unknown as Record<string, (...args: unknown[]) => unknown>;
    t.teardown(() => (client as unknown as { close(): void }).close());
    for (const [name, method] of Object.entries(definition)) {
      const answer = await new Promise<{ code: number; details: string }>((resolve) => {
        const deadline = Date.now() + 5000;
        if (method.responseStream) {
          const call = client[name]!(emptyRequest(method), metadata, { deadline }) as NodeJS.EventEmitter & { cancel(): void };
          // An answered stream either ends with its status (an empty request is refused) or starts
          // with a message (then it is served, whatever comes next).
          call.on('data', () => { call.cancel(); resolve({ code: status.OK, details: 'streamed' }); });
          call.on('error', (e: { code: number; details: string }) => resolve(e));
          call.on('status', (s: { code: number; details: string }) => resolve(s));
        } else {
          client[name]!(emptyRequest(method), metadata, { deadline }, (e: { code: number; details: string } | null) => resolve(e ?? { code: status.OK, details: 'ok' }));
        }
      });
      if (spec.answered.includes(name)) {
        t.not(answer.code, status.UNIMPLEMENTED, `${spec.name}/${name} is answered (${answer.code} ${answer.details})`);
      } else {
        t.equal(answer.code, status.UNIMPLEMENTED, `${spec.name}/${name} answers UNIMPLEMENTED`);
        t.match(answer.details, reasonNotAnswered(spec, name), `${spec.name}/${name} says why`);
      }
    }
  }
});

t.test('momento methods - grpc-web-text answers the same for every method', async (t) => {
  const server = await startMomentoServer(t);
  const apiKey = await apiKeyFor(server);
  const emptyFrame = Buffer.from([0, 0, 0, 0, 0]).toString('base64');
  for (const spec of MOMENTO_SERVICES) {
    for (const [name, method] of Object.entries(spec.definition)) {
      if (method.responseStream && spec.answered.includes(name)) continue; // a served stream stays open
      const res = await fetch(`${server.httpUrl}${method.path}`, {
        method: 'POST', body: emptyFrame,
        headers: { 'content-type': 'application/grpc-web-text', 'x-grpc-web': '1', authorization: apiKey, cache: 'app' },
      });
      const body = Buffer.from(await res.text(), 'base64').toString('latin1');
      const code = Number(/grpc-status:(\d+)/.exec(body)?.[1]);
      if (spec.answered.includes(name)) t.not(code, status.UNIMPLEMENTED, `${method.path} answered (${code})`);
      else {
        t.equal(code, status.UNIMPLEMENTED, `${method.path} answers UNIMPLEMENTED`);
        t.match(decodeURIComponent(/grpc-message:([^\r]*)/.exec(body)?.[1] ?? ''), reasonNotAnswered(spec, name));
      }
    }
  }
});
