/** The msgpack reply writer of the WebSocket transport: `ok` and `err` frames. Frozen results are
 * immutable and shared between replies (a list version's fetch, held by the store), so their
 * encoding is cached by identity: encoding 100 elements costs several times the fetch itself. The
 * cache holds the whole `ok` frame with the id in a fixed-width slot (encodeOkTemplate): a reply
 * patches the id in and, when the connection copies the frame before `send` returns, sends the
 * cached bytes themselves — no allocation, no copy, no garbage per reply (a fetch of 100 chat
 * messages is ~10 KB; copying and collecting it was ~30 % of the fetch's server CPU, bench/analysis.md). */
import {
  encodeFrame, encodeOkTemplate, encodeOkWithRaw, okTemplateResult, okTemplateSetId, OK_TEMPLATE_MAX_ID,
  type ErrReply, type OkReply, type WireError,
} from '../protocol/index.js';

export class MsgpackReplies {
  /** `ok` frames of frozen results; an entry lives as long as its result object (the store's memo). */
  private readonly sharedFrames = new WeakMap<object, Uint8Array>();

  /** The `ok` frame for `id`. With `sentSynchronously` (the caller passes the frame to a `send` that
   * copies or writes it before returning, and keeps no reference) the frame may be a shared buffer
   * that the next reply overwrites; otherwise it is the caller's own. */
  ok(id: number, result: unknown, sentSynchronously = false): Uint8Array {
    if (result !== null && typeof result === 'object' && Object.isFrozen(result)) {
      let frame = this.sharedFrames.get(result);
      if (!frame) {
        // encodeOkTemplate copies: the encoder's output is a view into its shared buffer.
        frame = encodeOkTemplate(encodeFrame(result));
        this.sharedFrames.set(result, frame);
      }
      if (id > OK_TEMPLATE_MAX_ID) return encodeOkWithRaw(id, okTemplateResult(frame));
      okTemplateSetId(frame, id);
      return sentSynchronously ? frame : frame.slice();
    }
    const reply: OkReply = { t: 'ok', id, r: result ?? {} };
    return encodeFrame(reply);
  }

  err(id: number | null, e: WireError): Uint8Array {
    const reply: ErrReply = { t: 'err', id, e };
    return encodeFrame(reply);
  }
}
