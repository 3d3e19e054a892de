/** Every gRPC service in @gomomento/generated-types, and for each of its methods whether this
 * listener answers it. One list: the listener registers every service from it (a method we do not
 * answer gets an UNIMPLEMENTED with the reason below, not grpc-js's bare "not implemented"), a test
 * calls every method through a real listener, and docs/momento-compat.md's table is generated from
 * it (scripts/momento-methods-table.ts; test/unit/momento-grpc.test.ts compares). */
import type { ServiceDefinition } from '@grpc/grpc-js';
import { auth, cache, control, functions, leaderboard, ping, pubsub, token, webhook } from '@gomomento/generated-types';

export interface MomentoServiceSpec {
  /** The gRPC service name, as in the request path `/<name>/<Method>`. */
  name: string;
  definition: ServiceDefinition;
  /** Methods answered, in the definition's order. */
  answered: readonly string[];
  /** Why the rest are not: the first group naming a method gives its reason; `*` is every other. */
  notAnswered: ReadonlyArray<{ methods: readonly string[] | '*'; reason: string }>;
}

const def = (service: { definition: unknown }) => service.definition as ServiceDefinition;

export const MOMENTO_SERVICES: readonly MomentoServiceSpec[] = [
  {
    name: 'cache_client.Scs',
    definition: def(cache.cache_client.UnimplementedScsService),
    answered: [
      'Get', 'GetBatch', 'Set', 'SetBatch', 'SetIf', 'SetIfNotExists', 'GetWithHash', 'SetIfHash', 'Delete', 'KeysExist', 'Increment', 'UpdateTtl', 'ItemGetTtl', 'ItemGetType',
      'DictionaryGet', 'DictionaryFetch', 'DictionarySet', 'DictionaryIncrement', 'DictionaryDelete', 'DictionaryLength',
      'SetUnion', 'SetDifference', 'SetFetch', 'SetSample', 'SetPop', 'SetContains', 'SetLength',
      'SortedSetPut', 'SortedSetFetch', 'SortedSetGetScore', 'SortedSetRemove', 'SortedSetIncrement', 'SortedSetGetRank', 'SortedSetLength',
      'SortedSetLengthByScore', 'SortedSetUnionStore',
      'ListPushFront', 'ListPushBack', 'ListPopFront', 'ListPopBack', 'ListErase', 'ListRemove', 'ListFetch', 'ListLength',
      'ListConcatenateFront', 'ListConcatenateBack', 'ListRetain',
    ],
    notAnswered: [
      { methods: '*', reason: 'Tidings stores scalar items, lists, dictionaries, sets and sorted sets only' },
    ],
  },
  {
    name: 'cache_client.pubsub.Pubsub',
    definition: def(pubsub.cache_client.pubsub.UnimplementedPubsubService),
    answered: ['Publish', 'Subscribe'],
    notAnswered: [],
  },
  {
    name: 'token.Token',
    definition: def(token.token.UnimplementedTokenService),
    answered: ['GenerateDisposableToken'],
    notAnswered: [],
  },
  {
    name: 'control_client.ScsControl',
    definition: def(control.control_client.UnimplementedScsControlService),
    answered: ['CreateCache', 'ListCaches'],
    notAnswered: [
      { methods: ['DeleteCache', 'FlushCache'], reason: 'caches are configuration in Tidings (store.caches), not changed at run time' },
      { methods: ['CreateSigningKey', 'RevokeSigningKey', 'ListSigningKeys'], reason: 'signing keys are configuration in Tidings (auth.signingKeys)' },
      { methods: '*', reason: 'Tidings has no vector indexes' },
    ],
  },
  {
    name: 'cache_client.Ping',
    definition: def(ping.cache_client.UnimplementedPingService),
    answered: ['Ping'],
    notAnswered: [],
  },
  {
    name: 'auth.Auth',
    definition: def(auth.auth.UnimplementedAuthService),
    answered: [],
    notAnswered: [{ methods: '*', reason: 'Tidings API keys are minted by its CLI (`tidings api-key --momento`), not by a login service' }],
  },
  {
    name: 'leaderboard.Leaderboard',
    definition: def(leaderboard.leaderboard.UnimplementedLeaderboardService),
    answered: [],
    notAnswered: [{ methods: '*', reason: 'Tidings has no leaderboards' }],
  },
  {
    name: 'webhook.Webhook',
    definition: def(webhook.webhook.UnimplementedWebhookService),
    answered: [],
    notAnswered: [{ methods: '*', reason: 'Tidings webhooks have their own routes (/v1/webhooks, docs/webhooks.md) and event shape' }],
  },
  {
    name: 'function.FunctionRegistry',
    definition: def(functions.function_client.UnimplementedFunctionRegistryService),
    answered: [],
    notAnswered: [{ methods: '*', reason: 'Tidings has no functions' }],
  },
  {
    name: 'function.FunctionHost',
    definition: def(functions.function_client.UnimplementedFunctionHostService),
    answered: [],
    notAnswered: [{ methods: '*', reason: 'Tidings has no functions' }],
  },
];

/** Methods of a service, in the definition's order. */
export function methodsOf(spec: MomentoServiceSpec): string[] {
  return Object.keys(spec.definition);
}

/** Why `method` is not answered; throws for an answered one or one no group covers. */
export function reasonNotAnswered(spec: MomentoServiceSpec, method: string): string {
  if (spec.answered.includes(method)) throw new Error(`${spec.name}/${method} is answered`);
  const group = spec.notAnswered.find((g) => g.methods !== '*' && g.methods.includes(method)) ?? spec.notAnswered.find((g) => g.methods === '*');
  if (!group) throw new Error(`${spec.name}/${method} has no reason for not being answered`);
  return group.reason;
}

/** The message an UNIMPLEMENTED answer carries. */
export function unimplementedMessage(spec: MomentoServiceSpec, method: string): string {
  return `Tidings does not implement ${spec.name}/${method}: ${reasonNotAnswered(spec, method)} (docs/momento-compat.md)`;
}

/** docs/momento-compat.md's "answered / not answered" table, generated from MOMENTO_SERVICES. */
export function methodsTable(): string {
  const code = (names: readonly string[]) => (names.length ? names.map((n) => `\`${n}\``).join(', ') : '—');
  const rows = MOMENTO_SERVICES.map((spec) => {
    const missing = methodsOf(spec).filter((m) => !spec.answered.includes(m));
    return `| \`${spec.name}\` | ${code(spec.answered)} | ${code(missing)} |`;
  });
  return ['| Service | Answered | Not answered (`UNIMPLEMENTED`) |', '|---|---|---|', ...rows].join('\n');
}
