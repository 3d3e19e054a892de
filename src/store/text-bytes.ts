/** Text as the stores keep, count and compare it: UTF-8, with each lone surrogate (JS strings may
 * hold them) as its 3-byte form (WTF-8) rather than TextEncoder's U+FFFD, so that it comes back
 * exactly, counts what measureText counts, and compares the same in both stores. Valid UTF-8
 * never contains those byte sequences. */
import { isWellFormed } from '../protocol/index.js';

const encoder = new TextEncoder();

export function textBytes(text: string): Uint8Array {
  if (isWellFormed(text)) return encoder.encode(text);
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) { c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00); i++; }
    }
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return Uint8Array.from(out);
}
