/** Reads a request's `id` out of a msgpack frame without decoding it, in bounded time. Used for
 * frames refused for their size before decoding (decoding is what an oversized frame would make
 * the server pay for): the refusal can still name the request it answers. Walks at most
 * MAX_STEPS msgpack headers of the top-level map, skipping strings and binaries by their length
 * prefix, so the cost does not grow with the frame. */
const MAX_STEPS = 64;

export function peekRequestId(bytes: Uint8Array): number | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const b0 = bytes[0];
  let entries: number;
  let pos: number;
  if (b0 === undefined) return null;
  if (b0 >= 0x80 && b0 <= 0x8f) { entries = b0 & 0x0f; pos = 1; }
  else if (b0 === 0xde && bytes.length >= 3) { entries = view.getUint16(1); pos = 3; }
  else if (b0 === 0xdf && bytes.length >= 5) { entries = view.getUint32(1); pos = 5; }
  else return null;
  const budget = { steps: MAX_STEPS };
  for (let i = 0; i < entries; i++) {
    const isId = bytes[pos] === 0xa2 && bytes[pos + 1] === 0x69 /* i */ && bytes[pos + 2] === 0x64 /* d */;
    pos = skip(bytes, view, pos, budget);
    if (pos < 0) return null;
    if (isId) return readUint(bytes, view, pos);
    pos = skip(bytes, view, pos, budget);
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

/** Position after the msgpack value at `pos` (containers included), or -1 when the bytes end,
 * are invalid, or the step budget runs out. */
function skip(bytes: Uint8Array, view: DataView, pos: number, budget: { steps: number }): number {
  let pending = 1;
  while (pending > 0) {
    if (--budget.steps < 0 || pos >= bytes.length) return -1;
    pending--;
    const b = bytes[pos]!;
    const len = (size: number, at = pos + 1): number => {
      if (at + size > bytes.length) return -1;
      return size === 1 ? view.getUint8(at) : size === 2 ? view.getUint16(at) : view.getUint32(at);
    };
    let next: number;
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) next = pos + 1;
    else if (b <= 0x8f) { pending += 2 * (b & 0x0f); next = pos + 1; }
    else if (b <= 0x9f) { pending += b & 0x0f; next = pos + 1; }
    else if (b <= 0xbf) next = pos + 1 + (b & 0x1f);
    else {
      switch (b) {
        case 0xc4: case 0xd9: { const n = len(1); next = n < 0 ? -1 : pos + 2 + n; break; }
        case 0xc5: case 0xda: { const n = len(2); next = n < 0 ? -1 : pos + 3 + n; break; }
        case 0xc6: case 0xdb: { const n = len(4); next = n < 0 ? -1 : pos + 5 + n; break; }
        case 0xc7: { const n = len(1); next = n < 0 ? -1 : pos + 3 + n; break; }
        case 0xc8: { const n = len(2); next = n < 0 ? -1 : pos + 4 + n; break; }
        case 0xc9: { const n = len(4); next = n < 0 ? -1 : pos + 6 + n; break; }
        case 0xca: next = pos + 5; break;
        case 0xcb: next = pos + 9; break;
        case 0xcc: case 0xd0: next = pos + 2; break;
        case 0xcd: case 0xd1: next = pos + 3; break;
        case 0xce: case 0xd2: next = pos + 5; break;
        case 0xcf: case 0xd3: next = pos + 9; break;
        case 0xd4: next = pos + 3; break;
        case 0xd5: next = pos + 4; break;
        case 0xd6: next = pos + 6; break;
        case 0xd7: next = pos + 10; break;
        case 0xd8: next = pos + 18; break;
        case 0xdc: { const n = len(2); if (n < 0) return -1; pending += n; next = pos + 3; break; }
        case 0xdd: { const n = len(4); if (n < 0) return -1; pending += n; next = pos + 5; break; }
        case 0xde: { const n = len(2); if (n < 0) return -1; pending += 2 * n; next = pos + 3; break; }
        case 0xdf: { const n = len(4); if (n < 0) return -1; pending += 2 * n; next = pos + 5; break; }
        default: return -1; // 0xc1 is never used
      }
    }
    if (next < 0 || next > bytes.length) return -1;
    pos = next;
  }
  return pos;
}
