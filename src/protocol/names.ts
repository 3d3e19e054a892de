/** Grammar of cache, topic and item-key names, checked by server and SDK alike. */
export const MAX_NAME_BYTES = 255;

/** Characters a name may not contain: control characters (U+0000–U+001F, U+007F). The server uses
 * U+0000 internally to join cache and topic into one fan-out key, so it must never appear. */
const FORBIDDEN = /[\u0000-\u001f\u007f]/;

/** Whether `text` has no lone surrogate (so it has a UTF-8 form: Redis keys and protobuf strings
 * carry UTF-8, and two texts differing only in lone surrogates would merge there). */
export function isWellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

/** Returns a human reason why `name` is not a valid name, or undefined when it is. */
export function nameProblem(kind: 'cache' | 'topic' | 'key' | 'topic pattern' | 'group', name: unknown): string | undefined {
  if (typeof name !== 'string') return `${kind} name must be a string`;
  if (name.length === 0 || name.trim().length === 0) return `${kind} name must not be blank`;
  if (utf8Length(name) > MAX_NAME_BYTES) return `${kind} name must be at most ${MAX_NAME_BYTES} bytes of UTF-8`;
  if (FORBIDDEN.test(name)) return `${kind} name must not contain control characters`;
  // A lone surrogate has no UTF-8: the Redis engine's keys (sent as UTF-8) would merge such names.
  if (!isWellFormed(name)) return `${kind} name must be well-formed Unicode (no lone surrogates)`;
  return undefined;
}

/** One key for (cache, topic): the server's fan-out key and the SDK's subscription key. Names
 * cannot contain U+0000, so the join is unambiguous. */
export function topicKey(cache: string, topic: string): string {
  return `${cache}\u0000${topic}`;
}

/** The fan-out key of a topic's join/leave events: beside the topic's own key, not on it, because
 * native fan-out cannot filter per subscriber and these events go only to subscribers that asked
 * for them and may see presence. U+0001 cannot appear in a name either. */
export function presenceKey(cache: string, topic: string): string {
  return `${cache}\u0000${topic}\u0001p`;
}

/** UTF-8 length without allocating (the protocol module runs in browsers too: no Buffer). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (surrogatePairAt(text, i)) { bytes += 4; i++; }
    else bytes += 3;
  }
  return bytes;
}

/** Whether a high surrogate at `i` is followed by a low one (4 bytes of UTF-8 together); a lone
 * surrogate is 3 (WTF-8, as the stores keep it). */
export function surrogatePairAt(text: string, i: number): boolean {
  return (text.charCodeAt(i) & 0xfc00) === 0xd800 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
}
