/** Delivering a subscription's backlog (resume replay, or items published while it was being set
 * up) from the topic window at the pace the connection drains, then attaching it to live fan-out.
 * A large replay therefore never overflows the send buffer, and nothing is skipped. */
import { encodeFrame, type DiscontinuityFrame, type Position } from '../protocol/index.js';
import type { TopicEngine } from './engine.js';
import type { Session } from './session.js';

/** Backlog is sent while less than this is queued: half the buffer, so live traffic of the
 * connection's other subscriptions keeps room and the slow-consumer limit is never reached. */
export function catchUpBufferLimit(maxBackpressureBytes: number): number {
  return maxBackpressureBytes / 2;
}

/** Sends window items to one subscription while the send buffer has room; attaches it to the live
 * fan-out once caught up. Returns false when it stopped for room (call again on drain). */
export function continueCatchUp(session: Session, key: string, topics: TopicEngine, bufferLimit: number): boolean {
  const ref = session.subscriptions.get(key);
  let cursor: Position | undefined = session.catchUps?.get(key);
  if (!ref || !cursor) return true;
  const { connection } = session;
  for (;;) {
    const room = bufferLimit - connection.bufferedAmount();
    if (room <= 0) {
      session.setCatchUp(key, cursor);
      return false;
    }
    const read = topics.read(ref.cache, ref.topic, cursor, room);
    if (read.gap) {
      const disc: DiscontinuityFrame = { t: 'disc', cache: ref.cache, topic: ref.topic, lastSeq: read.gap.lastSeq, newSeq: read.gap.newSeq, page: read.next.page };
      connection.send(encodeFrame(disc));
    }
    for (const frame of read.frames) connection.send(frame);
    cursor = read.next;
    if (read.caughtUp) {
      session.clearCatchUp(key);
      connection.attach(key);
      return true;
    }
  }
}

/** Continues every pending catch-up of a session (on drain). */
export function continueAllCatchUps(session: Session, topics: TopicEngine, bufferLimit: number): void {
  for (const key of [...(session.catchUps?.keys() ?? [])]) {
    if (!continueCatchUp(session, key, topics, bufferLimit)) return;
  }
}
