/** Public server API. */
export { createServer, type CreateServerOptions, type TidingsServer, type ServerFeature } from './server/app.js';
export { defaultFeatures } from './features.js';
export { DEFAULTS, resolveConfig, ConfigError, type TidingsConfig, type DeepPartial } from './core/config.js';
export { TidingsError } from './core/errors.js';
export { ManualClock, systemClock, type Clock } from './core/clock.js';
export { TokenAuthority, generateSigningKey, type Grant, type MintOptions, type MintedCredential } from './auth/tokens.js';
export { MemoryEngine } from './engine/memory-engine.js';
export type { Engine, TopicEngine, Fanout, WindowRead } from './engine/engine.js';
export type { CacheEngine, CollectionTtl, ElementOrigin, PushOptions, StoreStats } from './store/cache-store.js';
export { isNativeUws, NativeBuildMissingError } from './server/native.js';
export * from './protocol/index.js';
