/** The seam around every publish: features that must see or gate what is published (moderation
 * today; webhooks, presence "last seen" and per-topic metrics next) register a hook with the topic
 * engine instead of being wired into it. Defined here, below the features and the engine, so both
 * can name it without importing each other. */
import type { Value } from '../protocol/index.js';

/** One stamped item, as the publishing node saw it. */
export interface PublishedItem {
  cache: string;
  topic: string;
  /** A binary value may be a view into the transport's receive buffer: copy it to keep it. */
  value: Value;
  tokenId: string | undefined;
  page: number;
  seq: number;
  ts: number;
  /** The publishing connection's id, when a connection published it (a moderator's `rejected`
   * goes back there). */
  origin: string | undefined;
}

export interface PublishHook<Admission = unknown> {
  /** Before the publish changes anything. Throw a TidingsError to refuse the publish (nothing is
   * then stamped or sent); return undefined when this item is of no interest (then `published` is
   * not called for it, and the publish allocates nothing for this hook). Runs on every publish:
   * keep it to a lookup. */
  admit(cache: string, topic: string, value: Value): Admission | undefined;
  /** After the item was stamped, recorded and fanned out, in the same tick, on the node that
   * published it (once per item cluster-wide; an idempotent publish whose reply that node never
   * got: when a retry of its key there hears it, engine/redis/unheard-publishes.ts). Must not throw. */
  published(item: PublishedItem, admission: Admission): void;
}
