import type { AttemptOutcome, RetryLater } from './delivery-queue.js';

/** What a destination's answer comes to, for Web Push and webhooks alike: 2xx delivered; 5xx, 408
 * and 429 worth another attempt, not before its Retry-After (429/503: RFC 9110, RFC 8030 §8.4);
 * any other status refused for good. (Web Push reads 404/410 first: the subscription is gone.) */
export function outcomeOfAnswer(status: number, retryAfter: string | null, now: number): AttemptOutcome | RetryLater {
  if (status >= 200 && status < 300) return 'delivered';
  if (status >= 500 || status === 408 || status === 429) {
    const afterMs = retryAfterMs(retryAfter, now);
    return afterMs === undefined ? 'retry' : { outcome: 'retry', afterMs };
  }
  return 'reject';
}

/** A receiver's Retry-After (RFC 9110 §10.2.3: delay-seconds or an HTTP-date), in ms from `now`;
 * undefined when absent, unparsable or not in the future. The caller caps it (its backoff cap):
 * a receiver must not park a lane for ever. */
function retryAfterMs(header: string | null, now: number): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  if (/^\d{1,10}$/.test(text)) {
    const ms = Number(text) * 1000;
    return ms > 0 ? ms : undefined;
  }
  const at = Date.parse(text);
  if (Number.isNaN(at) || at <= now) return undefined;
  return at - now;
}
