/** token.Token (GenerateDisposableToken), control_client.ScsControl (Create/Delete/ListCaches) and
 * cache_client.Ping. */
import type { sendUnaryData, ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import { control, ping, token } from '@gomomento/generated-types';
import { permission_messages as perms } from '@gomomento/generated-types/dist/permissionmessages.js';
import {
  ErrorCode, innerCredential, nameProblem,
  type CachePermission, type CacheRole, type CacheSelector, type ItemSelector, type Permission, type TopicPermission, type TopicRole, type TopicSelector,
} from '../../protocol/index.js';
import { TidingsError, invalidArgument, permissionDenied } from '../../core/errors.js';
import { PermissionScopes } from '../../protocol/index.js';
import { unary, utf8, type GrpcDeps } from './calls.js';
import { toStatus } from './status.js';

type PermissionsMessage = InstanceType<typeof perms.Permissions>;
type PermissionsType = InstanceType<typeof perms.PermissionsType>;

const CACHE_ROLES: Partial<Record<perms.CacheRole, CacheRole>> = {
  [perms.CacheRole.CacheReadWrite]: 'readwrite',
  [perms.CacheRole.CacheReadOnly]: 'readonly',
  [perms.CacheRole.CacheWriteOnly]: 'writeonly',
};
const TOPIC_ROLES: Partial<Record<perms.TopicRole, TopicRole>> = {
  [perms.TopicRole.TopicReadWrite]: 'publishsubscribe',
  [perms.TopicRole.TopicReadOnly]: 'subscribeonly',
  [perms.TopicRole.TopicWriteOnly]: 'publishonly',
};

/** Momento's permission messages -> our Scope. The oneofs are read by `kind` (super-user is enum 0,
 * the default). A "permit none" role grants nothing (permissions are a union), and function
 * permissions are dropped: Tidings has no functions, and AllDataReadWrite always carries one. */
export function scopeFromMomento(message: PermissionsMessage | undefined): { permissions: Permission[] } {
  if (!message || message.kind !== 'explicit') return PermissionScopes.allDataReadWrite();
  const out: Permission[] = [];
  for (const p of message.explicit.permissions as PermissionsType[]) {
    if (p.kind === 'cache_permissions') {
      const c = p.cache_permissions;
      const role = CACHE_ROLES[c.role];
      // No cache selector selects nothing; no item selector is how the SDKs send a whole-cache
      // permission (only disposable-token scopes name items).
      if (!role || c.cache === 'none') continue;
      const cache: CacheSelector = c.cache === 'cache_selector' ? { name: c.cache_selector.cache_name } : '*';
      let item: ItemSelector = '*';
      if (c.cache_item === 'item_selector') {
        const s = c.item_selector;
        item = s.kind === 'key_prefix' ? { keyPrefix: utf8(s.key_prefix) } : { key: utf8(s.key) };
      }
      out.push({ role, cache, item } satisfies CachePermission);
    } else if (p.kind === 'topic_permissions') {
      const t = p.topic_permissions;
      const role = TOPIC_ROLES[t.role];
      if (!role || t.cache === 'none' || t.topic === 'none') continue;
      const cache: CacheSelector = t.cache === 'cache_selector' ? { name: t.cache_selector.cache_name } : '*';
      let topic: TopicSelector = '*';
      if (t.topic === 'topic_selector') {
        const s = t.topic_selector;
        topic = s.kind === 'topic_name_prefix' ? { namePrefix: s.topic_name_prefix } : { name: s.topic_name };
      }
      out.push({ role, cache, topic } satisfies TopicPermission);
    }
  }
  if (out.length === 0) throw invalidArgument('the token would grant nothing Tidings serves (only cache and topic permissions are supported)');
  return { permissions: out };
}

export function tokenService(deps: GrpcDeps): UntypedServiceImplementation {
  const pb = token.token;
  return {
    GenerateDisposableToken: (call: ServerUnaryCall<InstanceType<typeof pb._GenerateDisposableTokenRequest>, unknown>, callback: sendUnaryData<unknown>) => {
      // No authorization header here: the minting credential is the body's auth_token.
      void (async () => {
        const r = call.request;
        const minter = deps.auth.verify(innerCredential(r.auth_token));
        deps.broker.admitMint(minter);
        const minted = await deps.auth.mintFor(minter, {
          scope: scopeFromMomento(r.has_permissions ? r.permissions : undefined),
          expiresInSec: r.expires?.valid_for_seconds ?? 0,
          ...(r.token_id ? { tokenId: r.token_id } : {}),
        });
        // The SDK parses the endpoint before it applies overrides, so it must never be empty.
        return new pb._GenerateDisposableTokenResponse({ api_key: minted.token, endpoint: deps.endpoint(), valid_until: Math.floor((minted.expiresAt ?? 0) / 1000) });
      })().then((response) => callback(null, response), (err: unknown) => {
        if (!(err instanceof TidingsError)) deps.log.error({ err }, 'grpc token call failed unexpectedly');
        callback(toStatus(err));
      });
    },
  };
}

/** Caches are configuration in Tidings (store.caches; empty = every name exists on first use), so the
 * control plane reports them rather than changing them. Only an API key may use it (Momento: a
 * super-user key); a disposable token gets PERMISSION_ERROR. */
export function controlService(deps: GrpcDeps): UntypedServiceImplementation {
  const pb = control.control_client;
  const { store, topics } = deps.config;
  const configured = new Set(store.caches);
  const exists = (name: string) => configured.size === 0 || configured.has(name);
  const requireApiKey = (kind: string) => {
    if (kind !== 'api_key') throw permissionDenied('the control plane needs an API key, not a disposable token');
  };
  const checkName = (name: string) => {
    const problem = nameProblem('cache', name);
    if (problem) throw invalidArgument(problem);
  };
  type Call = ServerUnaryCall<{ cache_name: string }, unknown>;
  return {
    CreateCache: (call: Call, callback: sendUnaryData<unknown>) => unary(deps, call, callback, (session, r) => {
      requireApiKey(session.grant!.kind);
      checkName(r.cache_name);
      // The SDK reports ALREADY_EXISTS as CreateCache.AlreadyExists, which apps treat as ready.
      if (exists(r.cache_name)) throw new TidingsError(ErrorCode.ALREADY_EXISTS_ERROR, `cache "${r.cache_name}" already exists`);
      throw new TidingsError(ErrorCode.FAILED_PRECONDITION_ERROR, `cache "${r.cache_name}" is not in store.caches; caches are configured, not created at run time`);
    }),
    ListCaches: (call: Call, callback: sendUnaryData<unknown>) => unary(deps, call, callback, (session) => {
      requireApiKey(session.grant!.kind);
      const cacheLimits = new pb._CacheLimits({ max_item_size_kb: Math.floor(store.maxItemBytes / 1024), max_ttl_seconds: store.maxTtlSec, max_throughput_kbps: 0, max_traffic_rate: 0 });
      const topicLimits = new pb._TopicLimits({ max_publish_message_size_kb: Math.floor(topics.maxValueBytes / 1024), max_subscription_count: topics.maxSubscriptionsPerConnection, max_publish_rate: 0 });
      return new pb._ListCachesResponse({
        cache: store.caches.map((cache_name) => new pb._Cache({ cache_name, cache_limits: cacheLimits, topic_limits: topicLimits })),
        next_token: '',
      });
    }),
  };
}

export function pingService(): UntypedServiceImplementation {
  const pb = ping.cache_client;
  return { Ping: (_call: unknown, callback: sendUnaryData<unknown>) => callback(null, new pb._PingResponse()) };
}
