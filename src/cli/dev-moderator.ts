/** Dev mode: runs the chat moderator (demo/moderator.ts) in this process so the demo page works with
 * no second terminal. The moderator is an SDK client, kept outside src/ (server code never imports
 * the SDK): it is loaded by path, from source under tsx, else from its build (dist/demo/moderator.js,
 * scripts/build-demo-moderator.mjs). */
import { PermissionScopes } from '../protocol/index.js';
import type { TidingsServer } from '../server/app.js';

/** The part of demo/moderator.ts this launcher uses. */
interface ChatModeratorModule {
  CHAT_CACHE: string;
  startChatModerator(options: {
    url: string; token: string; clientName?: string;
    onError?(error: unknown): void;
  }): Promise<{ stop(): Promise<void> }>;
}

const PACKAGE_ROOT = new URL('../../', import.meta.url);
/** Running from source (tsx) loads the source, so tests and `tsx src/main.ts` never see a stale build. */
const FROM_SOURCE = import.meta.url.endsWith('.ts');

export function devModeratorModuleUrl(): URL {
  return new URL(FROM_SOURCE ? 'demo/moderator.ts' : 'dist/demo/moderator.js', PACKAGE_ROOT);
}

/** Starts the moderator against `server`; resolves to its stop function. Throws with a hint when
 * the module cannot be loaded (not built, or `ws` missing in an installed package). */
export async function startDevModerator(server: TidingsServer): Promise<() => Promise<void>> {
  const url = devModeratorModuleUrl();
  let mod: ChatModeratorModule;
  try {
    mod = (await import(url.href)) as ChatModeratorModule;
  } catch (err) {
    throw new Error(`cannot load the demo moderator from ${url.pathname} (${(err as Error).message}); run \`npm run build\` in a checkout with dev dependencies`);
  }
  const { token } = await server.auth.mintApiKey({ scope: PermissionScopes.moderator(mod.CHAT_CACHE), expiresInSec: null, tokenId: 'demo-moderator' });
  const log = server.logger;
  const running = await mod.startChatModerator({
    url: server.wsUrl,
    token,
    clientName: 'tidings-dev-moderator',
    onError: (err) => log.warn({ err }, 'demo moderator error'),
  });
  log.info({ cache: mod.CHAT_CACHE }, 'demo moderator running');
  return () => running.stop();
}
