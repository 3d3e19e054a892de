/** The JSON shapes the HTTP transports speak (docs/http-api.md): values (text as a JSON string,
 * binary as `{ "base64": "…" }`), positions (`<page>:<seq>`, comma-joined for several topics), and
 * server frames turned into JSON events for SSE and long-poll. */
import type { Position, Value } from '../protocol/index.js';
import { invalidArgument } from '../core/errors.js';

/** Binary values travel as this one-key object: JSON has no bytes, and a bare base64 string could
 * not be told apart from text. */
export interface JsonBinary { base64: string }
export type JsonValue = string | JsonBinary;

export function toJsonValue(value: Value): JsonValue {
  return typeof value === 'string' ? value : { base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
}

/** A value from a JSON body: a string, or `{ "base64": "…" }` for bytes. */
export function fromJsonValue(value: unknown, field: string): Value | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const b64 = (value as Record<string, unknown>)['base64'];
    if (typeof b64 === 'string' && Object.keys(value).length === 1 && /^[A-Za-z0-9+/]*={0,2}$/.test(b64)) {
      return new Uint8Array(Buffer.from(b64, 'base64'));
    }
  }
  throw invalidArgument(`${field} must be a string (text) or { "base64": "…" } (binary)`);
}

export function formatPosition(p: Position): string {
  return `${p.page}:${p.seq}`;
}

/** Positions of a stream's topics, in the order its URL named them: `1:5,3:0`. One topic gives
 * exactly `<page>:<seq>`. Undefined when the text does not name exactly `count` positions. */
export function parseCursor(text: string, count: number): Position[] | undefined {
  const parts = text.split(',');
  if (parts.length !== count) return undefined;
  const out: Position[] = [];
  for (const part of parts) {
    const m = /^(\d{1,15}):(\d{1,15})$/.exec(part.trim());
    if (!m) return undefined;
    out.push({ page: Number(m[1]), seq: Number(m[2]) });
  }
  return out;
}

export function formatCursor(positions: readonly Position[]): string {
  return positions.map(formatPosition).join(',');
}

/** A decoded server frame as a JSON event: `type` plus the frame's fields, values made JSON-safe.
 * Undefined for frames these transports do not forward (heartbeats, replies). */
export function jsonEvent(frame: Record<string, unknown>): { type: string; data: Record<string, unknown> } | undefined {
  const { t, ...fields } = frame;
  switch (t) {
    case 'item': {
      const data: Record<string, unknown> = {
        cache: fields['cache'], topic: fields['topic'], value: toJsonValue(fields['value'] as Value),
        seq: fields['seq'], page: fields['page'], ts: fields['ts'],
      };
      if (fields['tokenId'] !== undefined) data['tokenId'] = fields['tokenId'];
      return { type: 'item', data };
    }
    case 'disc': case 'retract': case 'end': case 'notice': case 'bye':
      return { type: t, data: fields };
    default:
      return undefined;
  }
}
