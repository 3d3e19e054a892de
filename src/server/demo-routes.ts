/** Dev mode only: the demo chat page at / and a token route that plays the app backend, minting
 * each visitor a chat-participant token (publish-only on `<room>-input`, subscribe-only on `<room>`,
 * read-only on its history). Its tokenId is `<name>#<random>`: unique per visitor, so a page tells
 * its own messages from another visitor's with the same name. Never mounted outside dev mode. */
import { randomBytes } from 'node:crypto';
import type { TemplatedApp } from 'uWebSockets.js';
import { PermissionScopes, ErrorCode } from '../protocol/index.js';
import { TidingsError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { TokenAuthority } from '../auth/tokens.js';
import { jsonRoute } from './http-routes.js';
import { readTypedBody } from './http-body.js';
import type { BodyBudget } from './body-budget.js';
import { endText, getAndHead, serveFile } from './static-files.js';

/** The cache of the terminal examples too (demo/moderator.ts CHAT_CACHE): one room, two clients. */
export const DEMO_CACHE = 'chat';
const NAME = /^[\p{L}\p{N} _.-]{1,32}$/u;
const ROOM = /^[a-z0-9][a-z0-9-]{0,39}$/;
const DEMO_FILES: ReadonlySet<string> = new Set(['app.js', 'style.css', 'sw.js']);
/** The page shares its origin with /admin, where an operator types the admin key: a script
 * injected here (markup from a chat message, a compromised dependency) could open /admin and read
 * it. So the page runs no script but its own files: no inline script or handler, scripts, styles,
 * the service worker and connections (fetch, the WebSocket: ws:/wss:, as `'self'` does not cover
 * them in every browser) from this origin only; images only the inline icon; never framed. */
const PAGE_HEADERS = {
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src data:; connect-src 'self' ws: wss:; worker-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

export interface DemoOptions { auth: TokenAuthority; log: Logger; tokenTtlSec: number; bodies: BodyBudget }

export function mountDemoRoutes(app: TemplatedApp, { auth, log, tokenTtlSec, bodies }: DemoOptions): void {
  getAndHead(app, '/', (res, _req, head) => serveFile(res, 'demo/index.html', 'demo page missing', PAGE_HEADERS, head));
  getAndHead(app, '/demo/:file', (res, req, head) => {
    const file = req.getParameter(0) ?? '';
    if (!DEMO_FILES.has(file)) return endText(res, '404 Not Found', 'not found', head);
    serveFile(res, `demo/${file}`, 'demo file missing', {}, head);
  });

  /** Body: { name, room, spectator?, tokenId? }. Answers { token, tokenId, expiresAt, cache, room }.
   * A refresh sends back the tokenId it got (a connection keeps its identity across refreshes).
   * A spectator may read and listen but not post (the page shows the PERMISSION_ERROR it gets). */
  app.post('/dev/token', (res, req) => {
    const lease = bodies.lease(res, req);
    jsonRoute(res, log, async (aborted) => {
      let request: { name?: unknown; room?: unknown; spectator?: unknown; tokenId?: unknown };
      const body = await readTypedBody(res, 4096, aborted, lease);
      try {
        request = JSON.parse(body.toString('utf8')) as typeof request;
      } catch {
        throw new TidingsError(ErrorCode.INVALID_ARGUMENT_ERROR, 'body must be JSON { name, room }');
      }
      const name = typeof request.name === 'string' ? request.name.trim() : '';
      const room = typeof request.room === 'string' ? request.room.trim().toLowerCase() : '';
      if (!NAME.test(name)) throw new TidingsError(ErrorCode.INVALID_ARGUMENT_ERROR, 'name: 1 to 32 letters, digits, spaces, _ . or -');
      if (!ROOM.test(room) || room.endsWith('-input')) {
        throw new TidingsError(ErrorCode.INVALID_ARGUMENT_ERROR, 'room: 1 to 40 lowercase letters, digits or -, not ending in -input');
      }
      // Everyone in the demo may see who else is in the room (the presence right on the room).
      const chat = PermissionScopes.chatParticipant(DEMO_CACHE, room);
      const participant = { permissions: chat.permissions.map((p) => (p.role === 'subscribeonly' ? { ...p, presence: true } : p)) };
      const scope = request.spectator === true ? { permissions: participant.permissions.filter((p) => p.role !== 'publishonly') } : participant;
      // The name is self-declared anyway (this route stands in for an app backend), so taking a
      // tokenId back is no less safe than taking the name.
      const again = typeof request.tokenId === 'string' && request.tokenId.startsWith(`${name}#`) && /^#[0-9a-f]{6}$/.test(request.tokenId.slice(name.length));
      const tokenId = again ? request.tokenId as string : `${name}#${randomBytes(3).toString('hex')}`;
      const minted = await auth.mintDisposableToken({ scope, expiresInSec: tokenTtlSec, tokenId });
      return { status: '201 Created', body: { token: minted.token, tokenId, expiresAt: minted.expiresAt, cache: DEMO_CACHE, room } };
    }, {}, lease);
  });
}
