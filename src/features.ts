/** The feature modules a default server runs with: cache, moderation, presence, notify, the SDK
 * bundle, the demo page (dev mode) and the admin dashboard. */
import type { ServerFeature } from './server/app.js';
import { cacheHandlers } from './engine/handlers/cache.js';
import { moderationHandlers } from './engine/handlers/moderation.js';
import { mountSdkRoute } from './server/sdk-route.js';
import { mountDemoRoutes } from './server/demo-routes.js';
import { adminFeature } from './server/admin/admin-feature.js';
import { presenceHandlers } from './engine/handlers/presence.js';
import { presenceTracking } from './engine/presence-tracking.js';
import { callerReader, dispatchRoute } from './server/http-dispatch.js';
import { notifyHandlers } from './engine/handlers/notify.js';
import { NotifyService } from './notify/notify-service.js';
import type { HostLookup } from './notify/destination-policy.js';
import { decodeSegment, mountNotifyRoutes } from './server/notify-routes.js';
import { registerNotifyMetrics } from './server/notify-metrics.js';

/** Lists, dictionaries, sets, sorted sets, scalar items and pubAppend (docs/protocol.md, "Cache: lists and scalars"). */
export const cacheFeature: ServerFeature = { handlers: cacheHandlers };

/** Moderator groups, accept / reject / nack and retract (docs/moderation.md). */
export const moderationFeature: ServerFeature = { handlers: moderationHandlers };

/** Who is subscribed to a topic: the `presence` request, join/leave events for subscribers that
 * ask, and GET /v1/presence/:cache/:topic (docs/presence.md). */
export const presenceFeature: ServerFeature = {
  handlers: presenceHandlers,
  wire: (broker, { engine }) => broker.subscriptions.observe(presenceTracking(engine.presence)),
  routes: (app, { log, config }, broker) => {
    const callerOf = callerReader(config);
    app.get('/v1/presence/:cache/:topic', (res, req) => {
      const caller = callerOf(res, req);
      const cache = decodeSegment(req.getParameter(0));
      const topic = decodeSegment(req.getParameter(1));
      dispatchRoute(res, caller, broker, log, () => ({ t: 'presence', id: 0, cache, topic }));
    });
  },
};

/** Webhooks for the app's backend and Web Push for users who are away (docs/webhooks.md,
 * docs/push.md). A factory: each server gets its own state. `lookup` resolves destination host
 * names (default node:dns lookup; the internal-destination policy checks its answers too). */
export function notifyFeature(options: { lookup?: HostLookup } = {}): ServerFeature {
  let service: NotifyService | undefined;
  let stopRevocations: (() => void) | undefined;
  const state = () => {
    if (!service) throw new Error('notify feature used before setup');
    return service;
  };
  return {
    setup: ({ config, engine, auth, clock, log }) => {
      service = new NotifyService({ config, presence: engine.presence, shared: engine.notify, clock, log, lookup: options.lookup });
      engine.topics.addPublishHook(service.notifier);
      engine.presence.observe((change) => state().notifier.presenceChanged(change));
      // Not for a revocation older than this node (found when it starts): the nodes that heard it
      // removed the follows already, and removing again would take what a newer credential of the
      // tokenId followed since. A node back on Redis removes again: its connections may have used
      // the revoked credentials while it did not hear.
      stopRevocations = auth.revocations.subscribe(({ tokenId }, atStart) => { if (tokenId !== undefined && !atStart) state().tokenIdRevoked(tokenId); });
    },
    handlers: ({ config }) => notifyHandlers(state(), config.push),
    routes: (app, { auth, log, config }, broker, bodies) => mountNotifyRoutes(app, { broker, auth, log, config, maxBodyBytes: config.server.maxHttpBodyBytes, bodies, service: state() }),
    metrics: (registry) => registerNotifyMetrics(registry, state()),
    started: async () => async () => { stopRevocations?.(); state().close(); },
  };
}

/** The SDK as one ES module at /sdk/tidings.js, for pages without a build step. */
export const sdkBundleFeature: ServerFeature = { routes: (app, { config }) => mountSdkRoute(app, config.server.corsOrigins) };

/** Dev mode only: the demo chat at / and its token route. Its moderator is an SDK client the CLI
 * starts in dev mode (src/cli/dev-moderator.ts), not part of the server. */
export const demoFeature: ServerFeature = {
  routes: (app, { config, auth, log }, _broker, bodies) => {
    if (config.dev) mountDemoRoutes(app, { auth, log, tokenTtlSec: Math.min(3600, config.auth.maxTokenTtlSec), bodies });
  },
};

/** A fresh set per server: the notify and admin features hold per-server state. `notify`: the
 * notify feature's options (notifyFeature). */
export function defaultFeatures(options: { notify?: Parameters<typeof notifyFeature>[0] } = {}): ServerFeature[] {
  return [cacheFeature, moderationFeature, presenceFeature, notifyFeature(options.notify), sdkBundleFeature, demoFeature, adminFeature()];
}
