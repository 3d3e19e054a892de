/** A receiver's Retry-After (RFC 9110 §10.2.3: delay-seconds or an HTTP-date), in ms from `now`;
 * undefined when absent, unparsable or not in the future. The caller caps it (its backoff cap):
 * a receiver must not park a lane for ever. */
export function retryAfterMs(header: string | null, now: number): number | undefined {
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
