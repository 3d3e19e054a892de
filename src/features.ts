/** The feature modules a default server runs with (lists, moderation, demo page, admin dashboard). */
import type { ServerFeature } from './server/app.js';
import { cacheHandlers } from './engine/handlers/cache.js';
import { moderationHandlers } from './engine/handlers/moderation.js';
import { mountSdkRoute } from './server/sdk-route.js';
import { mountDemoRoutes } from './server/demo-routes.js';
import { adminFeature } from './server/admin/admin-feature.js';

/** Lists, scalar items and pubAppend (docs/protocol.md, "Cache: lists and scalars"). */
export const cacheFeature: ServerFeature = { handlers: cacheHandlers };

/** Moderator groups, accept / reject / nack and retract (docs/moderation.md). */
export const moderationFeature: ServerFeature = { handlers: moderationHandlers };

/** The SDK as one ES module at /sdk/tidings.js, for pages without a build step. */
export const sdkBundleFeature: ServerFeature = { routes: (app, { config }) => mountSdkRoute(app, config.server.corsOrigins) };

/** Dev mode only: the demo chat at / and its token route. Its moderator is an SDK client the CLI
 * starts in dev mode (src/cli/dev-moderator.ts), not part of the server. */
export const demoFeature: ServerFeature = {
  routes: (app, { config, auth, log }) => {
    if (config.dev) mountDemoRoutes(app, { auth, log, tokenTtlSec: Math.min(3600, config.auth.maxTokenTtlSec) });
  },
};

/** A fresh set per server: the admin feature holds per-server state (its stats sampler). */
export function defaultFeatures(): ServerFeature[] {
  return [cacheFeature, moderationFeature, sdkBundleFeature, demoFeature, adminFeature()];
}
