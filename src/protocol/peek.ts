/** Reads a request's `id` out of a msgpack frame without decoding it, in bounded time. Used for
 * frames refused before decoding (decoding is what an oversized frame would make the server pay
 * for): the refusal can still name the request it answers. Walks at most `maxSteps` msgpack
 * headers of the top-level map (MAX_STEPS unless frameShape has counted the frame's values),
 * skipping strings and binaries by their length prefix, so the cost does not grow with the frame. */
const MAX_STEPS = 64;

export function peekRequestId(bytes: Uint8Array, maxSteps = MAX_STEPS): number | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const b0 = bytes[0];
  let entries: number;
  let pos: number;
  if (b0 === undefined) return null;
  if (b0 >= 0x80 && b0 <= 0x8f) { entries = b0 & 0x0f; pos = 1; }
  else if (b0 === 0xde && bytes.length >= 3) { entries = view.getUint16(1); pos = 3; }
  else if (b0 === 0xdf && bytes.length >= 5) { entries = view.getUint32(1); pos = 5; }
  else return null;
  const budget = { steps: maxSteps };
  for (let i = 0; i < entries; i++) {
    const isId = bytes[pos] === 0xa2 && bytes[pos + 1] === 0x69 /* i */ && bytes[pos + 2] === 0x64 /* d */;
    pos = walk(bytes, pos, budget, Infinity);
    if (pos < 0) return null;
    if (isId) return readUint(bytes, view, pos);
    pos = walk(bytes, pos, budget, Infinity);
    if (pos < 0) return null;
  }
  return null;
}

function readUint(bytes: Uint8Array, view: DataView, pos: number): number | null {
  const b = bytes[pos];
  if (b === undefined) return null;
  if (b <= 0x7f) return b;
  const need = (n: number) => pos + 1 + n <= bytes.length;
  if (b === 0xcc && need(1)) return view.getUint8(pos + 1);
  if (b === 0xcd && need(2)) return view.getUint16(pos + 1);
  if (b === 0xce && need(4)) return view.getUint32(pos + 1);
  let n: number | undefined;
  if (b === 0xcf && need(8)) n = Number(view.getBigUint64(pos + 1));
  // msgpackr writes integers past 32 bits as float64.
  else if (b === 0xcb && need(8)) n = view.getFloat64(pos + 1);
  else if (b === 0xca && need(4)) n = view.getFloat32(pos + 1);
  return n !== undefined && Number.isSafeInteger(n) && n >= 0 ? n : null;
}

/** What frameShape found wrong with a frame, before anything was decoded. */
export type FrameShapeProblem = 'elements' | 'depth' | 'ext';

/** The shape of a frame as its msgpack headers tell it, read without decoding anything: its
 * element count (every value, containers and map keys included), or the first problem found. */
export type FrameShape = { elements: number; problem?: undefined } | { problem: FrameShapeProblem; elements?: undefined };

/** Checks a request frame against the limits on its elements and nesting before it is decoded:
 * decoding costs per element (an empty map costs the decoder a new object per byte), so a frame
 * of a legal size could cost far more than its bytes suggest. The walk stops as soon as a limit is
 * passed: its own cost is bounded by the limits, not the frame. Ext types (which the protocol
 * never uses, and which msgpackr would turn into dates or its own records) are refused, but for
 * msgpackr's `undefined`, which an SDK built on it writes for a field left undefined. A frame
 * that is truncated or invalid is left to the decoder, which fails on it within the same bounds. */
export function frameShape(bytes: Uint8Array, maxElements: number, maxDepth: number): FrameShape {
  const budget = { steps: maxElements };
  const end = walk(bytes, 0, budget, maxDepth);
  if (end === PAST_DEPTH) return { problem: 'depth' };
  if (end === EXT) return { problem: 'ext' };
  if (end === OUT_OF_STEPS) return { problem: 'elements' };
  return { elements: maxElements - budget.steps };
}

/** walk() outcomes other than a position. */
const INVALID = -1;
const OUT_OF_STEPS = -2;
const PAST_DEPTH = -3;
const EXT = -4;

/** Position after the msgpack value at `pos` (containers included), or -1 when the bytes end or
 * are invalid, -2 when the step budget runs out, -3 when containers nest deeper than `maxDepth`,
 * -4 at an ext type. One step per value header. */
function walk(bytes: Uint8Array, pos: number, budget: { steps: number }, maxDepth: number): number {
  // Values still to read in each open container, innermost last.
  const open: number[] = [];
  for (;;) {
    if (--budget.steps < 0) return OUT_OF_STEPS;
    if (pos >= bytes.length) return INVALID;
    const b = bytes[pos]!;
    let next: number;
    // Values the container at `pos` holds (map entries count twice), or -1 for a scalar.
    let holds = -1;
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) next = pos + 1;
    else if (b <= 0x8f) { holds = 2 * (b & 0x0f); next = pos + 1; }
    else if (b <= 0x9f) { holds = b & 0x0f; next = pos + 1; }
    else if (b <= 0xbf) next = pos + 1 + (b & 0x1f);
    else {
      switch (b) {
        case 0xc4: case 0xd9: { const n = lengthAt(bytes, pos, 1); next = n < 0 ? INVALID : pos + 2 + n; break; }
        case 0xc5: case 0xda: { const n = lengthAt(bytes, pos, 2); next = n < 0 ? INVALID : pos + 3 + n; break; }
        case 0xc6: case 0xdb: { const n = lengthAt(bytes, pos, 4); next = n < 0 ? INVALID : pos + 5 + n; break; }
        // msgpackr writes `undefined` as fixext 1 of type 0 (an absent field to the server): a
        // scalar. Every other ext type is refused.
        case 0xd4: if (bytes[pos + 1] !== 0 || bytes[pos + 2] !== 0) return EXT; next = pos + 3; break;
        case 0xc7: case 0xc8: case 0xc9: case 0xd5: case 0xd6: case 0xd7: case 0xd8: return EXT;
        case 0xca: next = pos + 5; break;
        case 0xcb: next = pos + 9; break;
        case 0xcc: case 0xd0: next = pos + 2; break;
        case 0xcd: case 0xd1: next = pos + 3; break;
        case 0xce: case 0xd2: next = pos + 5; break;
        case 0xcf: case 0xd3: next = pos + 9; break;
        case 0xdc: { holds = lengthAt(bytes, pos, 2); if (holds < 0) return INVALID; next = pos + 3; break; }
        case 0xdd: { holds = lengthAt(bytes, pos, 4); if (holds < 0) return INVALID; next = pos + 5; break; }
        case 0xde: { const n = lengthAt(bytes, pos, 2); if (n < 0) return INVALID; holds = 2 * n; next = pos + 3; break; }
        case 0xdf: { const n = lengthAt(bytes, pos, 4); if (n < 0) return INVALID; holds = 2 * n; next = pos + 5; break; }
        default: return INVALID; // 0xc1 is never used
      }
    }
    if (next < 0 || next > bytes.length) return INVALID;
    pos = next;
    if (holds >= 0 && open.length >= maxDepth) return PAST_DEPTH;
    if (holds > 0) { open.push(holds); continue; }
    // A value is complete: it completes the containers it was the last value of.
    while (open.length > 0 && --open[open.length - 1]! === 0) open.pop();
    if (open.length === 0) return pos;
  }
}

/** The `size`-byte big-endian length after the header byte at `pos`, or -1 past the end. */
function lengthAt(bytes: Uint8Array, pos: number, size: 1 | 2 | 4): number {
  if (pos + 1 + size > bytes.length) return INVALID;
  let n = 0;
  for (let i = 1; i <= size; i++) n = n * 256 + bytes[pos + i]!;
  return n;
}
