/** The operators' dashboard (docs/operations.md): a page at /admin and an `adminStats` request on
 * the WebSocket that feeds it, so the page is an ordinary SDK client. Off unless `admin.tokenIds`
 * names at least one API key: then /admin is 404 and `adminStats` is refused. */
import { TidingsError, permissionDenied } from '../../core/errors.js';
import { ErrorCode } from '../../protocol/index.js';
import type { AdminConfig } from '../../core/config.js';
import type { Session } from '../../engine/session.js';
import type { ServerFeature } from '../app.js';
import { mountAdminPage } from './admin-routes.js';
import type { AdminStats } from '../../protocol/index.js';
import { StatsSampler } from './stats.js';

/** Only an API key (never a disposable token) whose tokenId is listed in admin.tokenIds. */
export function requireDashboardKey(session: Session, admin: AdminConfig): void {
  if (admin.tokenIds.length === 0) throw permissionDenied('the admin dashboard is off (set admin.tokenIds)');
  const grant = session.grant;
  if (!grant || grant.kind !== 'api_key' || grant.tokenId === undefined || !admin.tokenIds.includes(grant.tokenId)) {
    throw permissionDenied('adminStats needs an API key whose tokenId is listed in admin.tokenIds');
  }
}

/** A fresh feature per server: it holds that server's sampler. */
export function adminFeature(): ServerFeature {
  let sampler: StatsSampler | undefined;
  return {
    handlers: ({ config }) => ({
      adminStats: ({ session }): AdminStats => {
        requireDashboardKey(session, config.admin);
        // Requests can arrive between listen() and started(); the sampler exists from then on.
        if (!sampler) throw new TidingsError(ErrorCode.SERVER_UNAVAILABLE, 'the server is still starting');
        return sampler.sample();
      },
    }),
    routes: (app, { config }) => {
      if (config.admin.tokenIds.length > 0) mountAdminPage(app);
    },
    started: async (server) => {
      sampler = new StatsSampler({ broker: server.broker, engine: server.engine, transport: server.transport, config: server.config, clock: server.clock });
    },
  };
}
