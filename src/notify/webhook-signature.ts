/** The webhook signature: HMAC-SHA256 over `<timestamp>.<body>`, keyed with the endpoint's secret.
 * Signing the timestamp with the body lets a receiver refuse replays (an old timestamp) as well as
 * forgeries; docs/webhooks.md shows the receiver's side. */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'tidings-signature';
export const TIMESTAMP_HEADER = 'tidings-timestamp';

export function sign(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

/** For receivers (and tests): true when `signature` is ours for this body and timestamp, and the
 * timestamp is within `toleranceMs` of `now`. */
export function verify(secret: string, body: string, timestamp: string | undefined, signature: string | undefined, now: number, toleranceMs = 5 * 60_000): boolean {
  const ts = Number(timestamp);
  if (!Number.isSafeInteger(ts) || Math.abs(now - ts) > toleranceMs || typeof signature !== 'string') return false;
  const expected = Buffer.from(sign(secret, ts, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
