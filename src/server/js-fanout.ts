/** Fan-out to connections that are not uWS WebSockets (SSE streams, long-polls, the SDK's HTTP
 * fallback stream). HTTP responses cannot join uWS topics, so these connections sit in a JS index
 * (fan-out key -> connections) that the server's Fanout.publish walks beside `app.publish`.
 *
 * A published frame is wrapped once in a SharedFrame, which every receiver of that publish shares:
 * the msgpack decode and each text encoding (SSE JSON event, base64) happen at most once per
 * publish, not once per subscriber. */

/** One published frame and its lazily computed encodings, shared by every JS receiver of it. */
export class SharedFrame {
  private readonly encodings = new Map<string, unknown>();
  constructor(readonly bytes: Uint8Array) {}

  /** Computes `encode(bytes)` on first use under `name`; later receivers get the same value. */
  as<T>(name: string, encode: (bytes: Uint8Array) => T): T {
    if (this.encodings.has(name)) return this.encodings.get(name) as T;
    const value = encode(this.bytes);
    this.encodings.set(name, value);
    return value;
  }
}

export interface JsReceiver {
  receive(frame: SharedFrame): void;
}

export class JsFanout {
  private readonly index = new Map<string, Set<JsReceiver>>();
  /** The keys each receiver is attached to, so a closing connection detaches from all at once. */
  private readonly keysOf = new Map<JsReceiver, Set<string>>();

  attach(key: string, receiver: JsReceiver): void {
    let set = this.index.get(key);
    if (!set) this.index.set(key, (set = new Set()));
    set.add(receiver);
    let keys = this.keysOf.get(receiver);
    if (!keys) this.keysOf.set(receiver, (keys = new Set()));
    keys.add(key);
  }

  detach(key: string, receiver: JsReceiver): void {
    const keys = this.keysOf.get(receiver);
    if (keys?.delete(key) && keys.size === 0) this.keysOf.delete(receiver);
    const set = this.index.get(key);
    if (!set) return;
    set.delete(receiver);
    // An empty set per topic ever seen would grow without bound.
    if (set.size === 0) this.index.delete(key);
  }

  /** Detaches `receiver` from every key it is attached to (its connection ended). */
  detachAll(receiver: JsReceiver): void {
    for (const key of [...(this.keysOf.get(receiver) ?? [])]) this.detach(key, receiver);
  }

  /** Hands `frame` to every receiver attached to `key`. Cheap when none is (one Map lookup), so
   * a server with only WebSocket clients pays nothing for it. */
  publish(key: string, frame: Uint8Array): void {
    const set = this.index.get(key);
    if (!set) return;
    const shared = new SharedFrame(frame);
    // A receiver may detach itself (slow consumer) while we walk; a Set's iterator allows that.
    for (const receiver of set) receiver.receive(shared);
  }

  /** Keys with at least one receiver (metrics, tests). */
  get size(): number {
    return this.index.size;
  }

  /** Receivers attached to at least one key (tests: one that left every key is forgotten). */
  get receivers(): number {
    return this.keysOf.size;
  }
}
