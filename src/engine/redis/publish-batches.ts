/** Publishes to one topic gathered over an event-loop iteration and sent as one script call
 * (scripts.ts tidingsTopicPublishBatch): one seq range, one list append, one PUBLISH that every node
 * reads as one channel message. Under load that turns N script runs, N ioredis commands and N channel
 * messages per node into one of each; a lone publish still goes out at the end of its iteration.
 *
 * Order: a batch is sent in the order its first item arrived, and any other script that touches the
 * topic (engine/redis/topic-engine.ts) sends the topic's open batch first, so a connection's
 * operations on one topic reach Redis in the order they were made. */
import type { TopicKeys } from './keys.js';

export interface BatchLimits {
  /** Items per batch at most; a full batch is sent at once. */
  maxItems: number;
  /** Encoded bytes per batch at most (a bigger item goes alone). */
  maxBytes: number;
}

/** One item of a batch: its frame parts (owned copies) and whoever waits for its seq. */
export interface BatchItem<V> {
  head: Uint8Array;
  tail: Uint8Array;
  /** What the caller needs to publish it alone again (e.g. after a stale group directory). */
  retry: V;
  resolve(result: BatchedPublish): void;
  reject(err: unknown): void;
}

export interface BatchedPublish { seq: number; page: number; ts: number; dup: boolean }

export interface Batch<V> {
  keys: TopicKeys;
  cache: string;
  topic: string;
  items: Array<BatchItem<V>>;
  bytes: number;
}

export class PublishBatches<V> {
  private readonly open = new Map<string, Batch<V>>();
  private scheduled = false;

  constructor(
    private readonly limits: BatchLimits,
    /** Sends one batch; settles every item of it. */
    private readonly send: (batch: Batch<V>) => void,
    /** Runs `sendAll`, the iteration's batches, so that they leave in one write. */
    private readonly together: (sendAll: () => void) => void = (sendAll) => sendAll(),
  ) {}

  add(keys: TopicKeys, cache: string, topic: string, head: Uint8Array, tail: Uint8Array, retry: V): Promise<BatchedPublish> {
    const bytes = head.byteLength + tail.byteLength;
    let batch = this.open.get(keys.channel);
    if (batch && (batch.items.length >= this.limits.maxItems || batch.bytes + bytes > this.limits.maxBytes)) {
      this.flush(keys.channel);
      batch = undefined;
    }
    if (!batch) {
      batch = { keys, cache, topic, items: [], bytes: 0 };
      this.open.set(keys.channel, batch);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flushAll);
      }
    }
    batch.bytes += bytes;
    const items = batch.items;
    return new Promise((resolve, reject) => { items.push({ head, tail, retry, resolve, reject }); });
  }

  /** Sends the topic's open batch now (before another script on the topic). */
  flush(channel: string): void {
    const batch = this.open.get(channel);
    if (!batch) return;
    this.open.delete(channel);
    this.send(batch);
  }

  private readonly flushAll = (): void => {
    this.scheduled = false;
    this.together(this.sendOpen);
  };

  private readonly sendOpen = (): void => {
    // Map order: batches leave in the order their first items arrived.
    for (const batch of this.open.values()) this.send(batch);
    this.open.clear();
  };
}
