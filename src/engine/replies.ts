/** The msgpack reply writer of the WebSocket transport: `ok` and `err` frames. Frozen results are
 * immutable and shared between replies (a list version's fetch, held by the store), so their
 * encoding is cached by identity: encoding 100 elements costs several times the fetch itself. */
import { encodeFrame, encodeOkWithRaw, type ErrReply, type OkReply, type WireError } from '../protocol/index.js';

export class MsgpackReplies {
  /** Encoded `r` of frozen results; an entry lives as long as its result object (the store's memo). */
  private readonly sharedEncodings = new WeakMap<object, Uint8Array>();

  ok(id: number, result: unknown): Uint8Array {
    if (result !== null && typeof result === 'object' && Object.isFrozen(result)) {
      let r = this.sharedEncodings.get(result);
      if (!r) {
        // A copy: the encoder's output is a view into its shared buffer, which a cached entry would pin.
        r = new Uint8Array(encodeFrame(result));
        this.sharedEncodings.set(result, r);
      }
      return encodeOkWithRaw(id, r);
    }
    const reply: OkReply = { t: 'ok', id, r: result ?? {} };
    return encodeFrame(reply);
  }

  err(id: number | null, e: WireError): Uint8Array {
    const reply: ErrReply = { t: 'err', id, e };
    return encodeFrame(reply);
  }
}
