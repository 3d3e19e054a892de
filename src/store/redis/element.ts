/** How a value (and, for pubAppend, its topic origin) is stored in one Redis string, so that
 * values keep their kind (text vs binary) and the Lua scripts can read what they must compare
 * without a msgpack decoder:
 *
 *     tag value                      tag 's' (text, UTF-8) or 'b' (binary): no origin
 *     tag len ':' header value       tag 'S' or 'B': `len` decimal bytes of header
 *                                    "page,seq,ts" or "page,seq,ts,tokenId"
 *
 * `value` is the payload bytes: the limits count exactly these, as the memory store does. The
 * Lua side of this format is `value_of` / `origin_of` in scripts.ts; keep the two in step. */
import { isWellFormed, type Value } from '../../protocol/index.js';
import type { ElementOrigin, ListItem } from '../cache-store.js';
import { textBytes } from '../text-bytes.js';

const TEXT = 0x73; // 's'
/** First byte of an encoded text value (element.ts format), for callers building elements. */
export const TEXT_TAG = TEXT;
const BINARY = 0x62; // 'b'
const TEXT_WITH_ORIGIN = 0x53; // 'S'
const BINARY_WITH_ORIGIN = 0x42; // 'B'
const COLON = 0x3a;

/** Encodes a value, copying it: a binary value may be a view into a WebSocket message that is
 * reused once the handler returns, and the Redis command is written later. */
export function encodeValue(value: Value): Buffer {
  if (typeof value === 'string') {
    if (!isWellFormed(value)) return Buffer.concat([Buffer.of(TEXT), textBytes(value)]);
    const out = Buffer.allocUnsafe(1 + Buffer.byteLength(value, 'utf8'));
    out[0] = TEXT;
    out.write(value, 1, 'utf8');
    return out;
  }
  const out = Buffer.allocUnsafe(1 + value.byteLength);
  out[0] = BINARY;
  out.set(value, 1);
  return out;
}

/** Payload bytes of an encoded value with no origin (what limits count). */
export function payloadBytes(encoded: Buffer): number {
  return encoded.byteLength - 1;
}

export function originHeader(origin: ElementOrigin): string {
  const base = `${origin.page},${origin.seq},${origin.ts}`;
  return origin.tokenId === undefined ? base : `${base},${origin.tokenId}`;
}

/** An element stored by pubAppend: the value with its origin. */
export function encodeWithOrigin(value: Value, origin: ElementOrigin): Buffer {
  const header = Buffer.from(originHeader(origin), 'utf8');
  const plain = encodeValue(value);
  const lead = Buffer.from(`${String.fromCharCode(plain[0] === TEXT ? TEXT_WITH_ORIGIN : BINARY_WITH_ORIGIN)}${header.byteLength}:`, 'latin1');
  return Buffer.concat([lead, header, plain.subarray(1)]);
}

/** The stored value, of the kind it was written as. */
export function decodeValue(stored: Buffer): Value {
  return decodeItem(stored).value;
}

/** The stored value with its origin (pubAppend elements), as listFetch withMeta returns it. */
export function decodeItem(stored: Buffer): ListItem {
  const tag = stored[0];
  if (tag === TEXT) return { value: text(stored, 1) };
  if (tag === BINARY) return { value: new Uint8Array(stored.subarray(1)) };
  if (tag !== TEXT_WITH_ORIGIN && tag !== BINARY_WITH_ORIGIN) throw new Error(`unknown stored element tag ${tag}`);
  const colon = stored.indexOf(COLON, 1);
  const headerLength = Number(stored.toString('latin1', 1, colon));
  const start = colon + 1;
  const header = stored.toString('utf8', start, start + headerLength);
  const valueAt = start + headerLength;
  const value: Value = tag === TEXT_WITH_ORIGIN ? text(stored, valueAt) : new Uint8Array(stored.subarray(valueAt));
  const [page, seq, ts, ...rest] = header.split(',');
  const item: ListItem = { value, page: Number(page), seq: Number(seq), ts: Number(ts) };
  // A tokenId may itself contain commas: everything after the third one is the tokenId.
  if (rest.length > 0) item.tokenId = rest.join(',');
  return item;
}

/** Decodes UTF-8 text from `start`, keeping WTF-8 lone surrogates (store/text-bytes.ts). */
function text(stored: Buffer, start: number): string {
  if (!hasSurrogate(stored, start)) return stored.toString('utf8', start);
  let out = '';
  for (let i = start; i < stored.length;) {
    const b = stored[i]!;
    let c: number;
    if (b < 0x80) { c = b; i += 1; }
    else if (b < 0xe0) { c = ((b & 0x1f) << 6) | (stored[i + 1]! & 0x3f); i += 2; }
    else if (b < 0xf0) { c = ((b & 0x0f) << 12) | ((stored[i + 1]! & 0x3f) << 6) | (stored[i + 2]! & 0x3f); i += 3; }
    else { c = ((b & 0x07) << 18) | ((stored[i + 1]! & 0x3f) << 12) | ((stored[i + 2]! & 0x3f) << 6) | (stored[i + 3]! & 0x3f); i += 4; }
    out += String.fromCodePoint(c);
  }
  return out;
}

function hasSurrogate(stored: Buffer, start: number): boolean {
  for (let i = stored.indexOf(0xed, start); i >= 0; i = stored.indexOf(0xed, i + 1)) {
    const next = stored[i + 1];
    if (next !== undefined && next >= 0xa0 && next <= 0xbf) return true;
  }
  return false;
}
