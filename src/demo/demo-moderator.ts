/** The dev server's own moderator: an SDK client of the server it runs in, serving every demo room
 * through one group subscription on `*-input`, exactly as an external moderator process would. */
import WebSocket from 'ws';
import { Connection } from '../client/connection.js';
import { Moderator } from '../client/moderator.js';
import type { WebSocketConstructor } from '../client/options.js';
import { PermissionScopes } from '../protocol/index.js';
import type { TokenAuthority } from '../auth/tokens.js';
import type { Logger } from '../core/logger.js';
import { DEMO_RULES, moderateChat } from './rules.js';

export async function startDemoModerator(options: { wsUrl: string; cache: string; auth: TokenAuthority; log: Logger }): Promise<() => Promise<void>> {
  const { token } = await options.auth.mintApiKey({ scope: PermissionScopes.moderator(options.cache), expiresInSec: null, tokenId: 'demo-moderator' });
  const connection = new Connection({ url: options.wsUrl, token, webSocket: WebSocket as unknown as WebSocketConstructor, clientName: 'demo-moderator' });
  const moderator = await Moderator.start({
    connection,
    cache: options.cache,
    group: 'demo-moderators',
    moderate: (input) => moderateChat(DEMO_RULES, input),
    onError: (err) => options.log.warn({ err }, 'demo moderator error'),
  });
  options.log.info({ cache: options.cache }, 'demo moderator running');
  return async () => {
    await moderator.stop();
    connection.close();
  };
}
