/** A moderator over a raw WebSocket, and chat participants, for the moderation tests (one node
 * or several). */
import { RawClient, tokenFor, type Frame } from './raw-client.js';
import { PermissionScopes, decodeFrame, type TidingsServer } from '../../src/index.js';

export const CACHE = 'chat';
export const SUFFIX = { nameSuffix: '-input' };

/** A moderator over a raw socket: records every delivery and answers it with `policy` (if set). */
export class RawModerator {
  readonly deliveries: Frame[] = [];
  private waiters: Array<{ count: number; resolve: () => void }> = [];

  constructor(readonly client: RawClient, public policy?: (d: Frame) => Frame | undefined) {
    client.ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return;
      const frame = decodeFrame(new Uint8Array(data));
      if (frame['t'] !== 'delivery') return;
      this.deliveries.push(frame);
      this.waiters = this.waiters.filter((w) => (this.deliveries.length >= w.count ? (w.resolve(), false) : true));
      const answer = this.policy?.(frame);
      if (answer) client.send({ ...answer, delivery: frame['delivery'] });
    });
  }

  /** `token`: a credential minted elsewhere (a node in another process has no `auth` here). */
  static async join(server: Pick<TidingsServer, 'wsUrl'>, options: { tokenId?: string; group?: string; maxInFlight?: number; token?: string; policy?: (d: Frame) => Frame | undefined } = {}): Promise<RawModerator> {
    const token = options.token ?? await tokenFor(server as TidingsServer, PermissionScopes.moderator(CACHE), { tokenId: options.tokenId ?? 'mod' });
    const client = await RawClient.open(server as TidingsServer, token);
    const mod = new RawModerator(client, options.policy);
    await client.ok({ t: 'gsub', cache: CACHE, group: options.group ?? 'mods', pattern: SUFFIX, ...(options.maxInFlight ? { maxInFlight: options.maxInFlight } : {}) });
    return mod;
  }

  /** Resolves once `count` deliveries in total have arrived. */
  received(count: number, timeoutMs = 5000): Promise<void> {
    if (this.deliveries.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${this.deliveries.length} of ${count} deliveries within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ count, resolve: () => { clearTimeout(timer); resolve(); } });
    });
  }
}

export const acceptAll = () => ({ t: 'accept' });

export async function participant(server: TidingsServer, tokenId: string, chat = 'room1'): Promise<RawClient> {
  return RawClient.open(server, await tokenFor(server, PermissionScopes.chatParticipant(CACHE, chat), { tokenId }));
}

/** A moderator in group "mods" on `modNode` and participant alice on `pubNode` (closed at teardown),
 * once one input went through (published by alice, delivered, accepted): the group is live. */
export async function liveGroup(t: { teardown(fn: () => void): void }, modNode: TidingsServer, pubNode = modNode): Promise<{ mod: RawModerator; alice: RawClient }> {
  const mod = await RawModerator.join(modNode);
  const alice = await participant(pubNode, 'alice');
  t.teardown(() => { mod.client.close(); alice.close(); });
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'before' });
  await mod.received(1);
  await mod.client.ok({ t: 'accept', delivery: mod.deliveries[0]!['delivery'] });
  return { mod, alice };
}
