/** What stored data costs, in two currencies:
 * - payload bytes (key + values as UTF-8 or raw bytes): what the user-facing item and element
 *   limits count, like Momento's;
 * - footprint bytes: an upper estimate of the V8 heap plus ArrayBuffer memory an entry holds,
 *   which the LRU's byte bound (store.maxBytes) counts, so the bound is on memory, not payload.
 *
 * The overhead constants were measured on Node 20 x64 (no pointer compression) with
 * `node --expose-gc --import tsx test/helpers/store-footprint.ts`: retained bytes per stored
 * element/entry minus payload, rounded up. test/unit/store/byte-accounting.test.ts re-measures and
 * fails if real usage exceeds the estimate. */
import { surrogatePairAt, type Value } from '../protocol/index.js';

/** V8 string header, rounded up to the 8-byte allocation granularity. */
export const STRING_OVERHEAD = 24;
/** A Uint8Array we own (copied out of the frame): JSTypedArray + JSArrayBuffer objects + the
 * backing-store bookkeeping. */
export const BINARY_OVERHEAD = 208;
/** One list element object { v, n, o } plus its slot share in the deque. */
export const ELEMENT_OVERHEAD = 72;
/** An element's origin object { page, seq, ts, tokenId } with page and ts boxed as heap numbers
 * (tokenId string counted separately). */
export const ORIGIN_OVERHEAD = 96;
/** One dictionary field: its share of the Map's hash table (3 slots per entry and a bucket per
 * two, at up to twice the count just after it grows) plus the { v, n, f } object holding the value. */
export const DICTIONARY_FIELD_OVERHEAD = 100;
/** One set element: its share of the Set's hash table (at up to twice the count just after it
 * grows; no value object, unlike a dictionary field) and the header of the string holding its
 * bytes (the bytes are counted separately). Measured: store-footprint's 'set 20 B x100'. */
export const SET_ELEMENT_OVERHEAD = 40;
/** One sorted-set element: its { m, s } entry (the score a heap number), its slot in the sorted
 * array and its share of the Map's hash table (both at up to twice the count just after they
 * grow), and the header of the string holding its bytes (counted separately). Measured:
 * store-footprint's 'sorted set 20 B x100'. */
export const SORTED_SET_ELEMENT_OVERHEAD = 128;
/** Per deque slot (a pointer); the deque's capacity is counted, not its length. */
export const SLOT_BYTES = 8;
/** One LRU entry: key-map entry, the entry wrapper object, LRU bookkeeping slots, list state. */
export const ENTRY_OVERHEAD = 240;

/** UTF-8 bytes of a string, and whether V8 must store it two bytes per char (any char above
 * Latin-1), in one pass. */
export function measureText(text: string): { utf8: number; wide: boolean; heap: number } {
  let utf8 = 0;
  let wide = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) utf8 += 1;
    else {
      if (c > 0xff) wide = true;
      if (c < 0x800) utf8 += 2;
      else if (surrogatePairAt(text, i)) { utf8 += 4; i++; }
      else utf8 += 3;
    }
  }
  return { utf8, wide, heap: STRING_OVERHEAD + (wide ? 2 * text.length : text.length) };
}

/** Shorter strings are always copied when sliced (V8's SlicedString::kMinLength). */
const MIN_SLICED_LENGTH = 13;

/** A flat copy of a string that shares no memory with its source. The decoder hands out strings
 * sliced from one string holding a whole frame's text; storing a slice would pin that frame. */
export function flatText(text: string, wide = measureText(text).wide): string {
  if (text.length < MIN_SLICED_LENGTH) return text;
  const encoding = wide ? 'utf16le' : 'latin1'; // both round-trip their range exactly
  return Buffer.from(text, encoding).toString(encoding);
}

/** A value the store can keep (owning its memory: see flatText; binary values are views into the
 * WebSocket message, which uWS reuses after the handler returns), with its payload and footprint. */
export function ownValue(value: Value): { v: Value; payload: number; footprint: number } {
  if (typeof value === 'string') {
    const { utf8, wide, heap } = measureText(value);
    return { v: flatText(value, wide), payload: utf8, footprint: heap };
  }
  return { v: new Uint8Array(value), payload: value.byteLength, footprint: BINARY_OVERHEAD + value.byteLength };
}
