/** The topic messages Redis hands a node (scripts.ts): `seq SP page SP frame`, as kept in a topic's
 * recent list and PUBLISHed for one item, and `*` then `length SP message` per item for a batch
 * (tidingsTopicPublishBatch). Read in place, with every index bounded: anything else PUBLISHed on a
 * topic's channel must neither hang nor crash a node (what it yields is then checked by seq/page). */

export interface TopicMessage { seq: number; page: number; frame: Uint8Array }

/** `*`: a channel message carrying several items. */
const BATCH_MARK = 0x2a;
const SPACE = 0x20;

/** The message in raw[start, end). The frame is a copy: the window keeps it, and a view would pin
 * ioredis's read buffer (engine.ts contract 5). */
export function parseTopicMessage(raw: Uint8Array, start = 0, end = raw.length): TopicMessage {
  // seq and page are decimal digits (scripts.ts topic_ms): read in place, no strings per message.
  let i = start;
  let seq = 0;
  for (; i < end && raw[i] !== SPACE; i++) seq = seq * 10 + (raw[i]! - 0x30);
  let page = 0;
  for (i++; i < end && raw[i] !== SPACE; i++) page = page * 10 + (raw[i]! - 0x30);
  // Uint8Array's slice (a copy in one allocation), not Buffer's (a view).
  return { seq, page, frame: Uint8Array.prototype.slice.call(raw, Math.min(i + 1, end), end) };
}

/** Calls `each` for every item of a channel message, one or a batch; stops at the first malformed part. */
export function forEachChannelItem(raw: Uint8Array, each: (message: TopicMessage) => void): void {
  const n = raw.length;
  if (raw[0] !== BATCH_MARK) {
    each(parseTopicMessage(raw, 0, n));
    return;
  }
  for (let i = 1; i < n;) {
    let length = 0;
    for (; i < n && raw[i] !== SPACE; i++) length = length * 10 + (raw[i]! - 0x30);
    i++;
    if (!(length > 0) || i + length > n) return;
    each(parseTopicMessage(raw, i, i + length));
    i += length;
  }
}
