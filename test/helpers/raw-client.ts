/** A protocol-level test client over a real WebSocket (`ws`): hand-made frames, replies by id,
 * and a queue of pushed frames to await with a deadline. No SDK involved. */
import WebSocket from 'ws';
import { encodeFrame, decodeFrames, PROTOCOL_VERSIONS, type Scope } from '../../src/protocol/index.js';
import type { TidingsServer } from '../../src/index.js';

export type Frame = Record<string, any>;

export class RawClient {
  readonly frames: Frame[] = [];
  hello: Frame | undefined;
  private waiters: Array<{ match: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];
  private nextId = 1;
  closed: { code: number; reason: string } | undefined;
  private closeWaiters: Array<(c: { code: number; reason: string }) => void> = [];

  /** Frames per received message, in arrival order (a `batch` message carries several). */
  readonly framesPerMessage: number[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const frames = isBinary ? decodeFrames(new Uint8Array(data)) : [{ t: 'text', data: data.toString() }];
      this.framesPerMessage.push(frames.length);
      for (const frame of frames) {
        const i = this.waiters.findIndex((w) => w.match(frame));
        if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(frame);
        else this.frames.push(frame);
      }
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.closed = { code, reason: reason.toString() };
      for (const w of this.closeWaiters.splice(0)) w(this.closed);
    });
  }

  /** Connects; `headers` are sent with the upgrade (e.g. a proxy's x-forwarded-for). */
  static async connect(url: string, protocols?: string[], headers?: Record<string, string>): Promise<RawClient> {
    const ws = new WebSocket(url, protocols, headers ? { headers } : {});
    const client = new RawClient(ws);
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    return client;
  }

  /** Connects and says hello with `token` (and `batch: true` when asked); throws when the hello
   * is refused. The hello reply is kept in `hello`. */
  static async open(server: TidingsServer, token: string, options: { batch?: boolean } = {}): Promise<RawClient> {
    const client = await RawClient.connect(server.wsUrl);
    const reply = await client.request({ t: 'hello', versions: [...PROTOCOL_VERSIONS], token, ...(options.batch ? { batch: true } : {}) });
    client.hello = reply['r'];
    if (reply['t'] !== 'ok') throw Object.assign(new Error(`hello refused: ${JSON.stringify(reply['e'])}`), { reply });
    return client;
  }

  sendRaw(data: Uint8Array | string): void { this.ws.send(data); }

  send(frame: Frame): number {
    const id = frame['id'] ?? this.nextId++;
    this.ws.send(encodeFrame({ ...frame, id }));
    return id;
  }

  /** Sends a request and resolves with its reply (ok or err). */
  request(frame: Frame, timeoutMs = 5000): Promise<Frame> {
    const id = this.send(frame);
    return this.next((f) => (f['t'] === 'ok' || f['t'] === 'err') && f['id'] === id, timeoutMs);
  }

  /** Sends a request that must succeed; returns `r`. */
  async ok(frame: Frame): Promise<Frame> {
    const reply = await this.request(frame);
    if (reply['t'] !== 'ok') throw new Error(`${frame['t']} failed: ${JSON.stringify(reply['e'])}`);
    return reply['r'];
  }

  /** Resolves with the first queued or future frame matching `match`. */
  next(match: (f: Frame) => boolean = () => true, timeoutMs = 5000): Promise<Frame> {
    const i = this.frames.findIndex(match);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve: (f: Frame) => { clearTimeout(timer); resolve(f); } };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no matching frame within ${timeoutMs} ms; queued: ${JSON.stringify(this.frames.slice(-5))}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Collects `count` item frames (for any topic unless filtered). */
  async items(count: number, filter: (f: Frame) => boolean = () => true, timeoutMs = 5000): Promise<Frame[]> {
    const out: Frame[] = [];
    for (let i = 0; i < count; i++) out.push(await this.next((f) => f['t'] === 'item' && filter(f), timeoutMs));
    return out;
  }

  /** Waits a short real interval and returns frames of type `t` that arrived (for "nothing else came" checks). */
  async drain(t: string, waitMs = 150): Promise<Frame[]> {
    await new Promise((r) => setTimeout(r, waitMs));
    const out = this.frames.filter((f) => f['t'] === t);
    for (const f of out) this.frames.splice(this.frames.indexOf(f), 1);
    return out;
  }

  waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('socket did not close in time')), timeoutMs);
      this.closeWaiters.push((c) => { clearTimeout(timer); resolve(c); });
    });
  }

  close(): void { this.ws.close(); }
}

/** Mints a disposable token on the server's key. */
export async function tokenFor(server: TidingsServer, scope: Scope, options: { tokenId?: string; expiresInSec?: number } = {}): Promise<string> {
  const minted = await server.auth.mintDisposableToken({ scope, expiresInSec: options.expiresInSec ?? 300, ...(options.tokenId ? { tokenId: options.tokenId } : {}) });
  return minted.token;
}
