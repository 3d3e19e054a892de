/** Public server API. */
export { createServer, type CreateServerOptions, type TidingsServer, type ServerFeature } from './server/app.js';
export { defaultFeatures, cacheFeature, moderationFeature, presenceFeature, notifyFeature, sdkBundleFeature, demoFeature } from './features.js';
export { DEFAULTS, resolveConfig, ConfigError, type TidingsConfig, type DeepPartial } from './core/config.js';
export { TidingsError } from './core/errors.js';
export { ManualClock, systemClock, type Clock } from './core/clock.js';
export { TokenAuthority, generateSigningKey, type Grant, type MintOptions, type MintedCredential } from './auth/tokens.js';
export { MemoryEngine } from './engine/memory-engine.js';
// What an out-of-tree engine implements (docs/architecture.md, "The engine seam and its contracts").
export type { Engine, RedisLink, TopicEngine, TopicStats, Fanout, WindowRead, Subscriber, PublishHook, PublishedItem } from './engine/engine.js';
export type { CacheEngine, CollectionTtl, ElementOrigin, PushOptions, Range, StoreStats, Maybe } from './store/cache-store.js';
export type { ModerationEngine, GroupMember, HeldDelivery } from './moderation/moderation-engine.js';
export type { GroupStats } from './moderation/group-registry.js';
export type { SubscriptionObserver } from './engine/subscriptions.js';
export type { PresenceEngine, PresenceChange, PresenceSubscriber } from './presence/presence.js';
export type { HostLookup } from './notify/destination-policy.js';
export { verify as verifyWebhookSignature, sign as signWebhook } from './notify/webhook-signature.js';
export { isNativeUws, NativeBuildMissingError } from './server/native.js';
export * from './protocol/index.js';
