/** The published value: ASCII `~TDB` + 16-digit send time in µs (monotonic) + '.' padding. Plain
 * ASCII so every peer carries it unchanged (NATS/Redis/MQTT bytes, socket.io JSON text). A receiver
 * finds the marker inside whatever framing the target adds and reads the send time back. */
import { nowUs } from './clock.js';

export const MAGIC = Buffer.from('~TDB', 'latin1');
const DIGITS = 16;
export const MIN_PAYLOAD_BYTES = MAGIC.length + DIGITS;

export function makePayload(bytes: number): Buffer {
  const size = Math.max(bytes, MIN_PAYLOAD_BYTES);
  const buf = Buffer.alloc(size, 0x2e);
  MAGIC.copy(buf, 0);
  return buf;
}

/** Writes the current time into a payload made by makePayload (in place; callers send a copy if the
 * transport keeps a reference). */
export function stampPayload(buf: Buffer): Buffer {
  let t = nowUs();
  for (let i = MAGIC.length + DIGITS - 1; i >= MAGIC.length; i--) {
    buf[i] = 0x30 + (t % 10);
    t = Math.floor(t / 10);
  }
  return buf;
}

/** Send time (µs) of the payload inside buf[start, end), or -1 when no marker is there. */
export function readStamp(buf: Buffer, start: number, end: number): number {
  const at = buf.indexOf(MAGIC, start);
  if (at < 0 || at + MAGIC.length + DIGITS > end) return -1;
  let t = 0;
  for (let i = at + MAGIC.length, stop = i + DIGITS; i < stop; i++) t = t * 10 + (buf[i]! - 0x30);
  return t;
}
