/** The one msgpack setup for both ends. Plain maps only (`useRecords: false`) so any MessagePack
 * decoder can read our frames; decode failures become typed errors, never exceptions that escape. */
import { Packr } from 'msgpackr';
import type { ServerFrame, GenericRequest, ItemFrame, Value } from './frames.js';

const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number', mapsAsObjects: true });

export function encodeFrame(frame: ServerFrame | GenericRequest | object): Uint8Array {
  return packr.pack(frame);
}

/** Tag of the array-shaped item frame. */
export const ITEM_TAG = 'i';

/** The item frame as an array: field names would be a third of a small item's bytes, and items
 * are what a broker sends most (docs/protocol.md, "Pushes on a subscription"). */
export function encodeItem(item: ItemFrame): Uint8Array {
  const fields: unknown[] = [ITEM_TAG, item.cache, item.topic, item.value, item.seq, item.page, item.ts];
  if (item.tokenId !== undefined) fields.push(item.tokenId);
  return packr.pack(fields);
}

/** The item frame of encodeItem without seq, page and ts, for a backend that stamps those itself
 * (the Redis engine's Lua script appends them, msgpack-encoded, between `head` and `tail`): `head`
 * is the 7- or 8-element array header with tag, cache, topic and value; `tail` the tokenId or
 * nothing. Both are copies the caller owns. */
export function encodeItemParts(cache: string, topic: string, value: Value, tokenId: string | undefined): { head: Uint8Array; tail: Uint8Array } {
  // Copies (the Uint8Array constructor; Buffer#slice would be a view into the encoder's buffer).
  const head = new Uint8Array(packr.pack([ITEM_TAG, cache, topic, value]));
  head[0] = 0x90 | (tokenId === undefined ? 7 : 8); // fixarray of the whole item
  return { head, tail: tokenId === undefined ? new Uint8Array(0) : new Uint8Array(packr.pack(tokenId)) };
}

/** The value inside encodeItemParts' `head` (read back only where the original is gone). */
export function itemPartsValue(head: Uint8Array): Value {
  const whole = Uint8Array.from(head);
  whole[0] = 0x94; // the 4 elements head holds, not the whole item's count
  return (packr.unpack(whole) as [string, string, string, Value])[3];
}

/** A map frame without the `stamped` keys a backend appends itself (the Redis engine's retract
 * script adds seq, page and ts): the map header already counts them. An owned copy. */
export function encodeFrameHead(frame: object, stamped: number): Uint8Array {
  const head = new Uint8Array(packr.pack(frame));
  const keys = Object.keys(frame).length + stamped;
  if (head[0] === 0xde) { // map16, what msgpackr writes for objects
    head[1] = keys >> 8;
    head[2] = keys & 0xff;
  } else if ((head[0]! & 0xf0) === 0x80 && keys <= 15) {
    head[0] = 0x80 | keys;
  } else {
    throw new Error('encodeFrameHead: the frame must encode as a map');
  }
  return head;
}

function itemFromArray(a: unknown[]): ItemFrame | undefined {
  const [, cache, topic, value, seq, page, ts, tokenId] = a;
  if (typeof cache !== 'string' || typeof topic !== 'string' || typeof seq !== 'number' || typeof page !== 'number' || typeof ts !== 'number') return undefined;
  if (typeof value !== 'string' && !(value instanceof Uint8Array)) return undefined;
  const item: ItemFrame = { t: 'item', cache, topic, value, seq, page, ts };
  if (typeof tokenId === 'string') item.tokenId = tokenId;
  return item;
}

export class FrameDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameDecodeError';
  }
}

/** Tag of the batch frame: `["b", frame, frame, ...]`, several server pushes in one message
 * (docs/protocol.md, "Batches"); only sent to a connection that asked for it in `hello`. */
export const BATCH_TAG = 'b';

function unpack(bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes);
  } catch (err) {
    throw new FrameDecodeError(`frame is not valid msgpack: ${(err as Error).message}`);
  }
}

/** Decodes one message into the frames it carries, in order: one, or each of a batch's. Throws
 * FrameDecodeError as decodeFrame does (for the message or any frame inside a batch). */
export function decodeFrames(bytes: Uint8Array): Array<Record<string, unknown>> {
  const value = unpack(bytes);
  if (!Array.isArray(value) || value[0] !== BATCH_TAG) return [frameFrom(value)];
  const frames: Array<Record<string, unknown>> = [];
  for (let i = 1; i < value.length; i++) frames.push(frameFrom(value[i]));
  return frames;
}

/** Decodes one frame into a plain object. Throws FrameDecodeError for anything that is not a single
 * msgpack map (random bytes, arrays, scalars, trailing garbage). */
export function decodeFrame(bytes: Uint8Array): Record<string, unknown> {
  return frameFrom(unpack(bytes));
}

function frameFrom(value: unknown): Record<string, unknown> {
  if (Array.isArray(value) && value[0] === ITEM_TAG) {
    const item = itemFromArray(value);
    if (item) return item as unknown as Record<string, unknown>;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
    throw new FrameDecodeError('frame must be a msgpack map');
  }
  return value as Record<string, unknown>;
}

/** `{ t: 'ok', id, r }` with `r` spliced in as raw bytes: `r` is the map's last field, so the
 * encoding of `r: null` ends in the nil byte, which the raw bytes replace. */
export function encodeOkWithRaw(id: number, r: Uint8Array): Uint8Array {
  const head = packr.pack({ t: 'ok', id, r: null });
  const out = new Uint8Array(head.byteLength - 1 + r.byteLength);
  out.set(head.subarray(0, head.byteLength - 1), 0);
  out.set(r, head.byteLength - 1);
  return out;
}

/** The `ok` frame of encodeOkWithRaw with its id in a fixed-width slot (msgpack uint32, which every
 * decoder reads as the same number as the shortest encoding), so one encoded reply can be reused for
 * every request id: see okTemplateSetId. A copy the caller owns. */
export function encodeOkTemplate(r: Uint8Array): Uint8Array {
  const out = new Uint8Array(OK_TEMPLATE_HEAD.byteLength + r.byteLength);
  out.set(OK_TEMPLATE_HEAD, 0);
  out.set(r, OK_TEMPLATE_HEAD.byteLength);
  return out;
}

/** Largest id okTemplateSetId can write (the slot is a uint32). */
export const OK_TEMPLATE_MAX_ID = 0xffffffff;

/** Writes `id` (0..OK_TEMPLATE_MAX_ID) into the id slot of an encodeOkTemplate frame, in place. */
export function okTemplateSetId(frame: Uint8Array, id: number): void {
  frame[OK_TEMPLATE_ID_AT] = id >>> 24;
  frame[OK_TEMPLATE_ID_AT + 1] = (id >>> 16) & 0xff;
  frame[OK_TEMPLATE_ID_AT + 2] = (id >>> 8) & 0xff;
  frame[OK_TEMPLATE_ID_AT + 3] = id & 0xff;
}

/** The `r` bytes of an encodeOkTemplate frame (a view). */
export function okTemplateResult(frame: Uint8Array): Uint8Array {
  return frame.subarray(OK_TEMPLATE_HEAD.byteLength);
}

// `{ t: 'ok', id: 0xffffffff, r: null }` without its last byte (the nil `r` replaces): the largest
// uint32 makes msgpackr write the 0xce form, whose four bytes sit just before the `r` key (fixstr "r").
const OK_TEMPLATE_HEAD = (() => {
  const head = new Uint8Array(packr.pack({ t: 'ok', id: OK_TEMPLATE_MAX_ID, r: null }));
  return head.subarray(0, head.byteLength - 1);
})();
const OK_TEMPLATE_ID_AT = OK_TEMPLATE_HEAD.byteLength - 2 - 4;
if (OK_TEMPLATE_HEAD[OK_TEMPLATE_ID_AT - 1] !== 0xce || OK_TEMPLATE_HEAD[OK_TEMPLATE_HEAD.byteLength - 1] !== 0x72) {
  throw new Error('unexpected msgpack layout of the ok reply header');
}

/** Id of a request frame if it has a usable one, so even a refused request can be answered by id. */
export function requestId(frame: Record<string, unknown>): number | null {
  const id = frame['id'];
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? id : null;
}
