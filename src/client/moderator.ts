/** A moderator in a few lines (docs/moderation.md): give it the cache, the input pattern and a
 * function that returns accept (maybe with a transformed value) or reject (with a reason the
 * sender receives). It joins the moderator group, and for each delivery asks the function, then
 * accepts (the server publishes to the chat as the original sender, appends to the capped history
 * and acknowledges, in one step) or rejects. It rejoins after every reconnect (deliveries the old
 * connection held are handed out again by the server) and after the server ended its membership. */
import {
  ErrorCode, LimitCause, MODERATION_INPUT_SUFFIX,
  type DeliveryFrame, type GroupJoinResult, type GroupPattern, type Position, type RetractResult, type Value,
} from '../protocol/index.js';
import { Connection } from './connection.js';
import { TidingsClientError } from './errors.js';
import { CONNECTION_DEFAULTS, type ConnectionOptions } from './options.js';
import { reconnectDelay } from './backoff.js';

/** What the helper needs from a connection: the SDK's Connection (src/client/connection.ts). */
export interface ModeratorLink {
  /** Sends a request (`t` and arguments, no id) and resolves with the reply's `r`; rejects with an
   * error carrying `code` when the server answers `err`. */
  request(frame: { t: string; [field: string]: unknown }): Promise<unknown>;
  /** Every frame the server pushes (not replies); returns an unsubscribe function. */
  onPush(listener: (frame: Record<string, unknown>) => void): () => void;
  /** Called after each successful reconnect (hello done); returns an unsubscribe function. */
  onReconnect(listener: () => void): () => void;
  /** Called after each token refresh (the SDK's Connection has it): a refresh whose token no longer
   * covers the group's pattern ends the membership on the server. */
  onTokenRefresh?(listener: (event: { ok: boolean; endedGroups?: Array<{ cache: string; group: string }> }) => void): () => void;
}

/** One input item to moderate. */
export interface ModerationInput {
  cache: string;
  /** The chat (output topic) the item is for, e.g. `room1`. */
  chat: string;
  /** The input topic it was published to, e.g. `room1-input`. */
  topic: string;
  value: Value;
  /** The sender, as stamped by the server from its token. */
  tokenId: string | undefined;
  /** The input item's position (what the sender's publish returned). */
  page: number;
  seq: number;
  /** 1 on the first delivery; higher when another moderator timed out or went away. */
  attempt: number;
}

/** accept: publish as is (`true`) or this value instead. reject: the reason the sender receives. */
export type ModerationDecision = { accept: true | Value } | { reject: string };

export interface ModeratorOptions {
  /** An SDK Connection (with a token allowed to join the pattern: PermissionScopes.moderator). */
  connection: ModeratorLink;
  cache: string;
  /** Default `{ nameSuffix: '-input' }`: every `<chat>-input` topic of the cache. */
  pattern?: GroupPattern;
  /** Group name; moderators with the same name share the load. Default `moderators`. */
  group?: string;
  /** Deliveries held at once (the server caps it at moderation.maxInFlightPerMember). */
  maxInFlight?: number;
  /** History elements kept per chat (default: the server's moderation.historyLength). */
  keep?: number;
  moderate(input: ModerationInput): ModerationDecision | Promise<ModerationDecision>;
  /** A moderate() that threw, or a settle the server refused (the item is handed back: nack); or,
   * with no input, a rejoin (after a reconnect, or after the server ended the membership: `gend`)
   * refused, or a token refresh that ended the membership (PERMISSION_ERROR: the moderator has
   * stopped). */
  onError?(error: unknown, input: ModerationInput | undefined): void;
}

export interface ModeratorStats { accepted: number; rejected: number; failed: number; joins: number }

export class Moderator {
  readonly stats: ModeratorStats = { accepted: 0, rejected: 0, failed: 0, joins: 0 };
  private readonly cleanups: Array<() => void> = [];
  private stopped = false;
  private rejoinTimer: ReturnType<typeof setTimeout> | undefined;
  /** A join not answered yet. */
  private joining = false;
  private readonly group: string;
  private readonly pattern: GroupPattern;

  private constructor(private readonly options: ModeratorOptions) {
    this.group = options.group ?? 'moderators';
    this.pattern = options.pattern ?? { nameSuffix: MODERATION_INPUT_SUFFIX };
  }

  /** Joins the group on `options.connection` and starts moderating; resolves once the first join
   * is accepted (rejects, e.g. PERMISSION_ERROR, when it is refused). */
  static async start(options: ModeratorOptions): Promise<Moderator> {
    const moderator = new Moderator(options);
    const link = options.connection;
    moderator.cleanups.push(link.onPush((frame) => {
      if (frame['cache'] !== options.cache || frame['group'] !== moderator.group) return;
      if (frame['t'] === 'delivery') void moderator.handle(frame as unknown as DeliveryFrame);
      // The server ended the membership (engine redis could not register it again): join again, a
      // refusal reported to onError as after a reconnect.
      else if (frame['t'] === 'gend' && !moderator.joining) moderator.rejoin(0);
    }));
    // Not while a join waits in the connection's queue (start() on a reconnecting connection, a
    // join the draining server handed back): it goes out on this link, and a second gsub would be
    // refused ALREADY_EXISTS_ERROR.
    moderator.cleanups.push(link.onReconnect(() => { if (!moderator.joining) moderator.rejoin(0); }));
    moderator.cleanups.push(() => clearTimeout(moderator.rejoinTimer));
    if (link.onTokenRefresh) {
      moderator.cleanups.push(link.onTokenRefresh((event) => {
        if (!event.ok || !event.endedGroups?.some((g) => g.cache === options.cache && g.group === moderator.group)) return;
        // Not a member any more, and a rejoin with this token would be refused: stop, and say why
        // (else it would wait for deliveries that never come).
        moderator.stopped = true;
        for (const cleanup of moderator.cleanups.splice(0)) cleanup();
        options.onError?.(new TidingsClientError(ErrorCode.PERMISSION_ERROR, `the refreshed token no longer allows group "${moderator.group}"'s pattern: the moderator stopped`), undefined);
      }));
    }
    try {
      await moderator.join();
    } catch (err) {
      for (const cleanup of moderator.cleanups.splice(0)) cleanup();
      throw err;
    }
    return moderator;
  }

  /** Opens its own SDK Connection, then start(); stop() closes that connection too. */
  static async connect(connection: ConnectionOptions, options: Omit<ModeratorOptions, 'connection'>): Promise<Moderator> {
    const owned = new Connection(connection);
    try {
      const moderator = await Moderator.start({ ...options, connection: owned });
      moderator.cleanups.push(() => owned.close());
      return moderator;
    } catch (err) {
      owned.close();
      throw err;
    }
  }

  /** Takes down a published chat message: removed from the history, a `retract` on the chat. */
  retract(chat: string, target: Position, reason?: string): Promise<RetractResult> {
    const frame = { t: 'retract', cache: this.options.cache, topic: chat, target, ...(reason !== undefined ? { reason } : {}) };
    return this.options.connection.request(frame) as Promise<RetractResult>;
  }

  /** Leaves the group (held deliveries go to the other members) and stops. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      await this.options.connection.request({ t: 'gunsub', cache: this.options.cache, group: this.group });
    } catch {
      // Not a member any more (connection gone): the server already handed its items on.
    }
    for (const cleanup of this.cleanups.splice(0)) cleanup();
  }

  /** Joins again after a reconnect. A join refused for a reason that passes (the server's Redis
   * away: TIMEOUT_ERROR, SERVER_UNAVAILABLE; the tokenId's request budget spent: the operations
   * rate or in-flight limit; no room for the membership: the groups limit) is asked again with
   * backoff: no other reconnect may come, and the moderator would sit out of its group, idle, with
   * the input piling up. A group that exists with another pattern (FAILED_PRECONDITION_ERROR) is
   * only reported: no retry changes it, the app must. */
  private rejoin(attempt: number): void {
    clearTimeout(this.rejoinTimer);
    if (this.stopped) return;
    this.join().catch((err: { code?: string; limitCause?: string }) => {
      if (this.stopped) return;
      // A retry after a timed-out join that reached the server after all: a member already.
      if (attempt > 0 && err?.code === ErrorCode.ALREADY_EXISTS_ERROR) return;
      this.options.onError?.(err, undefined);
      if (!passes(err)) return;
      const link = this.options.connection as Partial<Pick<Connection, 'backoffDelay'>>;
      const delay = link.backoffDelay?.(attempt) ?? reconnectDelay(attempt, CONNECTION_DEFAULTS.reconnectBaseMs, CONNECTION_DEFAULTS.reconnectMaxMs);
      this.rejoinTimer = setTimeout(() => this.rejoin(attempt + 1), delay);
    });
  }

  private async join(): Promise<GroupJoinResult> {
    const frame = { t: 'gsub', cache: this.options.cache, group: this.group, pattern: this.pattern, ...(this.options.maxInFlight ? { maxInFlight: this.options.maxInFlight } : {}) };
    this.joining = true;
    try {
      const result = (await this.options.connection.request(frame)) as GroupJoinResult;
      this.stats.joins++;
      return result;
    } finally {
      this.joining = false;
    }
  }

  private async handle(d: DeliveryFrame): Promise<void> {
    const input: ModerationInput = {
      cache: d.cache, chat: d.output, topic: d.topic, value: d.value, tokenId: d.tokenId, page: d.page, seq: d.seq, attempt: d.attempt,
    };
    const link = this.options.connection;
    let decision: ModerationDecision;
    try {
      decision = checkDecision(await this.options.moderate(input));
    } catch (err) {
      this.stats.failed++;
      this.options.onError?.(err, input);
      await link.request({ t: 'nack', delivery: d.delivery }).catch(() => {});
      return;
    }
    try {
      if ('reject' in decision) {
        await link.request({ t: 'reject', delivery: d.delivery, reason: decision.reject });
        this.stats.rejected++;
      } else {
        const frame: Record<string, unknown> = { t: 'accept', delivery: d.delivery };
        if (decision.accept !== true) frame['value'] = decision.accept;
        if (this.options.keep !== undefined) frame['keep'] = this.options.keep;
        await link.request(frame as { t: string });
        this.stats.accepted++;
      }
    } catch (err) {
      this.stats.failed++;
      // FAILED_PRECONDITION: not held any more (timed out, another member has it now): nothing to undo.
      // Stopped: it left the group (the server handed its items on) and maybe closed its connection.
      if ((err as { code?: string }).code === ErrorCode.FAILED_PRECONDITION_ERROR || this.stopped) return;
      this.options.onError?.(err, input);
      // Refused while still held (a reason or value past the server's limits, a token that may not
      // publish the chat): hand it back now rather than hold a slot until ackTimeoutMs. When the
      // server already took it back (failed publish, dropped link), the nack is refused: harmless.
      await link.request({ t: 'nack', delivery: d.delivery }).catch(() => {});
    }
  }
}

/** Whether a refused join may succeed if asked again later (Moderator.rejoin). */
function passes(err: { code?: string; limitCause?: string } | undefined): boolean {
  if (err?.code === ErrorCode.TIMEOUT_ERROR || err?.code === ErrorCode.SERVER_UNAVAILABLE) return true;
  return err?.code === ErrorCode.LIMIT_EXCEEDED_ERROR &&
    (err.limitCause === LimitCause.OPERATIONS_RATE || err.limitCause === LimitCause.PENDING_REQUESTS || err.limitCause === LimitCause.GROUPS);
}

/** Chats fail closed: anything but `{ accept: true | value }` or `{ reject: reason }` (a JS moderate()
 * returning `{}` or nothing) is an error, handed back like a throw, never an accept of the raw input. */
function checkDecision(decision: unknown): ModerationDecision {
  if (typeof decision === 'object' && decision !== null) {
    const d = decision as Record<string, unknown>;
    if ('reject' in d) { if (typeof d['reject'] === 'string') return decision as ModerationDecision; }
    else if (d['accept'] === true || typeof d['accept'] === 'string' || d['accept'] instanceof Uint8Array) return decision as ModerationDecision;
  }
  throw new TidingsClientError(ErrorCode.INVALID_ARGUMENT_ERROR, 'moderate() must return { accept: true | value } or { reject: reason }');
}
