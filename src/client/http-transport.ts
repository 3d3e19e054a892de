/** The SDK's fallback transport: a WebSocket look-alike over HTTP, for networks that break
 * WebSocket upgrades. Frames come down an SSE stream (`GET /v1/stream`, one base64 frame per
 * event) read with fetch, so it runs in browsers and Node alike and needs no EventSource; frames
 * go up in POSTs (`POST /v1/stream`, header X-Tidings-Stream), batched while one is in flight so
 * they arrive in order. The Connection above it speaks the same protocol as over a WebSocket:
 * hello, resume positions and replies are unchanged. Server side: src/server/sdk-stream.ts. */
import type { WebSocketLike } from './options.js';

export type FetchLike = (input: string, init?: {
  method?: string; headers?: Record<string, string>; body?: Uint8Array; signal?: AbortSignal; cache?: string;
}) => Promise<{ ok: boolean; status: number; body: ReadableStream<Uint8Array> | null; text(): Promise<string> }>;

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;
/** What a browser reports for a connection that ended without a close frame. */
const ABNORMAL = 1006;
/** A POST limit for a server that does not name its own: http.maxStreamPostBytes is at least
 * server.maxFrameBytes + 4, whose default is 1 MiB. */
const DEFAULT_MAX_POST_BYTES = 1024 * 1024 + 4;

export class HttpStreamSocket implements WebSocketLike {
  binaryType = 'arraybuffer';
  readyState = CONNECTING;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;

  private readonly abort = new AbortController();
  private streamId: string | undefined;
  private outbox: Uint8Array[] = [];
  private posting = false;
  /** The server's http.maxStreamPostBytes (named in the `open` event): no POST is larger. */
  private maxPostBytes = DEFAULT_MAX_POST_BYTES;
  /** The server's `close` event: the code a WebSocket close frame would have carried. */
  private closeFrame: { code: number; reason: string } | undefined;

  /** `baseUrl`: http(s)://host[:port] of the broker. */
  constructor(private readonly baseUrl: string, private readonly fetchImpl: FetchLike) {
    void this.read();
  }

  send(data: Uint8Array): void {
    if (this.readyState !== OPEN) throw new Error('the stream is not open');
    // The server would refuse the POST carrying it (413) whatever else it held: the link would
    // drop, and an idempotent request would be sent again after reconnecting, forever.
    if (4 + data.byteLength > this.maxPostBytes) throw new Error(`a frame of ${data.byteLength} bytes is larger than the server takes in one POST (${this.maxPostBytes} bytes)`);
    this.outbox.push(data);
    if (!this.posting) void this.post();
  }

  close(): void {
    if (this.readyState === CLOSED) return;
    this.finish(1000, 'client closed');
  }

  private async read(): Promise<void> {
    try {
      const res = await this.fetchImpl(`${this.baseUrl}/v1/stream`, { headers: { accept: 'text/event-stream' }, signal: this.abort.signal, cache: 'no-store' });
      if (!res.ok || !res.body) return this.finish(ABNORMAL, `stream refused: HTTP ${res.status}`);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          this.event(event);
          if (this.readyState === CLOSED) return;
        }
      }
      this.finish(this.closeFrame?.code ?? ABNORMAL, this.closeFrame?.reason ?? 'stream ended');
    } catch (err) {
      this.finish(this.closeFrame?.code ?? ABNORMAL, `stream failed: ${(err as Error)?.message ?? String(err)}`);
    }
  }

  private event(text: string): void {
    let name = 'message';
    let data = '';
    for (const line of text.split('\n')) {
      if (line.startsWith('data: ')) data += line.slice(6);
      else if (line.startsWith('event: ')) name = line.slice(7);
      // Comments (heartbeats are frames, not comments, on this stream) and ids are not used.
    }
    if (name === 'message') {
      this.onmessage?.({ data: base64ToBytes(data).buffer });
    } else if (name === 'open') {
      const open = JSON.parse(data) as { stream: string; maxPostBytes?: unknown };
      this.streamId = open.stream;
      if (typeof open.maxPostBytes === 'number' && open.maxPostBytes > 4) this.maxPostBytes = open.maxPostBytes;
      this.readyState = OPEN;
      this.onopen?.({});
    } else if (name === 'close') {
      this.closeFrame = JSON.parse(data) as { code: number; reason: string };
    }
  }

  /** One POST at a time, carrying everything queued meanwhile: requests reach the server in the
   * order they were sent, and a burst costs one round trip. The first POST carries hello alone
   * (the Connection sends nothing else until hello is answered): before hello the server takes
   * at most server.maxPreHelloFrameBytes + 4 bytes. */
  private async post(): Promise<void> {
    this.posting = true;
    try {
      while (this.outbox.length > 0 && this.readyState === OPEN) {
        // As many queued frames as fit in one POST (at least one: a frame is never split).
        let size = 4 + this.outbox[0]!.byteLength;
        let n = 1;
        while (n < this.outbox.length && size + 4 + this.outbox[n]!.byteLength <= this.maxPostBytes) size += 4 + this.outbox[n++]!.byteLength;
        const frames = this.outbox.splice(0, n);
        const res = await this.fetchImpl(`${this.baseUrl}/v1/stream`, {
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream', 'x-tidings-stream': this.streamId! },
          body: lengthPrefixed(frames),
          signal: this.abort.signal,
        });
        // The stream is gone (server restart, slow-consumer close): the connection reconnects.
        if (!res.ok) return this.finish(ABNORMAL, `request refused: HTTP ${res.status}`);
      }
    } catch (err) {
      this.finish(ABNORMAL, `request failed: ${(err as Error)?.message ?? String(err)}`);
    } finally {
      this.posting = false;
    }
  }

  private finish(code: number, reason: string): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.outbox = [];
    this.abort.abort();
    // Asynchronous like a WebSocket's close event, so the caller's close() returns first.
    setTimeout(() => this.onclose?.({ code, reason }), 0);
  }
}

function lengthPrefixed(frames: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const f of frames) size += 4 + f.byteLength;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const f of frames) {
    view.setUint32(at, f.byteLength);
    out.set(f, at + 4);
    at += 4 + f.byteLength;
  }
  return out;
}

function base64ToBytes(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
