/** A Server-Sent Events reader for Node tests over fetch (Node 20 has no EventSource): parses
 * events as a browser would and lets a test await the n-th one with a deadline. */
import { decodeFrame } from '../../src/protocol/index.js';

export interface SseEvent { id?: string; event: string; data: string; json: any }

export class SseReader {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  /** The id of the last event that carried one (what EventSource sends as Last-Event-ID). */
  lastEventId = '';
  /** The reconnect delay the stream named (`retry:`), as EventSource would use it. */
  retryMs: number | undefined;
  ended = false;
  private readonly abort = new AbortController();
  private waiters: Array<() => void> = [];
  private resumeReading: (() => void) | undefined;
  private pausedUntil: Promise<void> | undefined;

  private constructor(readonly status: number, readonly headers: Headers, readonly errorBody: any) {}

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    const abort = new AbortController();
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
    if (!res.ok) return new SseReader(res.status, res.headers, await res.json());
    const reader = new SseReader(res.status, res.headers, undefined);
    (reader as unknown as { abort: AbortController }).abort = abort;
    void reader.pump(res.body!);
    return reader;
  }

  private async pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        // While paused nothing more is read: the client's and the kernel's buffers fill, then the
        // server's (a slow reader).
        if (this.pausedUntil) await this.pausedUntil;
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          this.parse(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch { /* aborted */ }
    this.ended = true;
    this.wake();
  }

  private parse(block: string): void {
    const event: SseEvent = { event: 'message', data: '', json: undefined };
    let hasData = false;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) { this.comments.push(line.slice(1).trim()); continue; }
      const [field, ...rest] = line.split(':');
      const value = rest.join(':').replace(/^ /, '');
      if (field === 'id') { event.id = value; this.lastEventId = value; }
      else if (field === 'event') event.event = value;
      else if (field === 'retry') this.retryMs = Number(value);
      else if (field === 'data') { event.data += (hasData ? '\n' : '') + value; hasData = true; }
    }
    if (!hasData) return this.wake();
    try { event.json = JSON.parse(event.data); } catch { /* not JSON */ }
    this.events.push(event);
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once `predicate` holds over what arrived; rejects after `ms` saying what did. */
  async until(predicate: (r: SseReader) => boolean, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate(this)) {
      if (this.ended && !predicate(this)) throw new Error(`stream ended; got ${this.events.length} events`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`condition not met within ${ms} ms; got ${this.events.length} events: ${JSON.stringify(this.events.slice(-3))}`);
      await new Promise<void>((resolve) => { const timer = setTimeout(resolve, left); this.waiters.push(() => { clearTimeout(timer); resolve(); }); });
    }
  }

  /** Stops reading the stream (after the chunk in hand) until resume(). */
  pause(): void {
    this.pausedUntil ??= new Promise<void>((resolve) => { this.resumeReading = resolve; });
  }

  resume(): void {
    this.pausedUntil = undefined;
    this.resumeReading?.();
  }

  items(): SseEvent[] { return this.events.filter((e) => e.event === 'message'); }

  close(): void { this.abort.abort(); }
}

/** The SDK's fallback transport, spoken by hand: a `GET /v1/stream` read as SSE, its decoded
 * frames, and POSTs of frames (each with its 4-byte big-endian length) to it. */
export async function openSdkStream(t: { teardown(fn: () => unknown): void }, httpUrl: string) {
  const stream = await SseReader.open(`${httpUrl}/v1/stream`);
  t.teardown(() => stream.close());
  await stream.until((r) => r.events.some((e) => e.event === 'open'));
  const id = stream.events.find((e) => e.event === 'open')!.json.stream as string;
  const frames = () => stream.events.filter((e) => e.event === 'message').map((e) => decodeFrame(Buffer.from(e.data, 'base64')) as Record<string, any>);
  const postBody = (body: Uint8Array) => fetch(`${httpUrl}/v1/stream`, { method: 'POST', headers: { 'x-tidings-stream': id }, body: body as BodyInit });
  const postFrames = (...bodies: Uint8Array[]) => postBody(framedBody(...bodies));
  return { stream, id, frames, postBody, postFrames };
}

/** A fallback-stream POST body: each frame after its 4-byte big-endian length. */
export function framedBody(...frames: Uint8Array[]): Buffer {
  return Buffer.concat(frames.flatMap((b) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(b.byteLength);
    return [length, Buffer.from(b)];
  }));
}
