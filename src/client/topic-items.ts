/** What a subscription hands the application, shaped like Momento's TopicItem & co. */
import type { ItemFrame, Position, Value } from '../protocol/index.js';
import { valueBytes, valueString } from './responses.js';

export class TopicItem {
  readonly type = 'Item' as const;
  constructor(private readonly frame: ItemFrame) {}
  value(): Value { return this.frame.value; }
  valueString(): string { return valueString(this.frame.value); }
  valueUint8Array(): Uint8Array { return valueBytes(this.frame.value); }
  /** The publisher's token id, stamped by the server (undefined when its token had none). */
  tokenId(): string | undefined { return this.frame.tokenId; }
  sequenceNumber(): number { return this.frame.seq; }
  sequencePage(): number { return this.frame.page; }
  /** Server receive time, Unix ms. */
  timestamp(): number { return this.frame.ts; }
  position(): Position { return { page: this.frame.page, seq: this.frame.seq }; }
  /** Momento's TopicItem prints its value. */
  toString(): string { return this.valueString(); }
}

export class TopicDiscontinuity {
  readonly type = 'Discontinuity' as const;
  constructor(private readonly last: number, private readonly next: number, private readonly page: number, private readonly missedOnPrevious?: number) {}
  /** After a server restart that started the topic on a new page: how many items of the old page
   * were published after the last one received (from the shutdown's `bye`); undefined when unknown. */
  missedFromPreviousPage(): number | undefined { return this.missedOnPrevious; }
  lastSequenceNumber(): number { return this.last; }
  newSequenceNumber(): number { return this.next; }
  newSequencePage(): number { return this.page; }
}

/** The server's link to its shared store (engine `redis`) dropped or came back, for this topic
 * (docs/protocol.md, "Connection lifecycle": `notice`): `interrupted` means live items have stopped for now; `resumed`
 * means they flow again and the subscription caught up (a discontinuity comes first if items were
 * lost meanwhile). The connection stays open throughout: nothing to do, but a UI may say so. */
export class TopicNotice {
  readonly type = 'Notice' as const;
  constructor(readonly kind: 'topic_interrupted' | 'topic_resumed', readonly cacheName: string, readonly topicName: string) {}
  /** Live items stopped (kind topic_interrupted). */
  isInterrupted(): boolean { return this.kind === 'topic_interrupted'; }
}

export class TopicHeartbeat {
  readonly type = 'Heartbeat' as const;
}

/** A moderator took down the item at `target` (it is gone from the history too). */
export class TopicRetraction {
  readonly type = 'Retraction' as const;
  constructor(readonly target: Position, readonly reason: string | undefined, readonly tokenId: string | undefined) {}
}

/** A user (tokenId) joined or left a topic (subscribe with `presence: true`). Not numbered and
 * not replayed: after a reconnect, ask presence() again. */
export class TopicPresenceEvent {
  readonly type = 'PresenceEvent' as const;
  constructor(readonly kind: 'join' | 'leave', readonly tokenId: string) {}
}
