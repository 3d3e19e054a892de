/** Minimal clients over net.Socket for the load generator: a WebSocket client (RFC 6455 framing,
 * unmasked reads, zero-key masked writes) and a plain TCP stream. Hand-rolled so that every target
 * is driven by the same cheap parser: the generator spends tens of ns per frame, not the µs a
 * general-purpose client library spends, which keeps the measurement about the server. */
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { markChunk } from './clock.js';

export interface RawHandlers {
  /** One complete WebSocket message (ws) or one chunk of the byte stream (tcp): buf[start, end). */
  onData(buf: Buffer, start: number, end: number, opcode: number): void;
  onOpen(): void;
  onClose(reason: string): void;
}

/** Shared socket behaviour: connect, cork around bursts, close once. */
abstract class RawBase {
  protected readonly socket: Socket;
  closed = false;

  constructor(host: string, port: number, protected readonly handlers: RawHandlers) {
    this.socket = connect({ host, port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => { markChunk(); this.onChunk(chunk); });
    this.socket.on('error', (err) => this.finish(err.message));
    this.socket.on('close', () => this.finish('socket closed'));
  }

  protected abstract onChunk(chunk: Buffer): void;

  protected finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.handlers.onClose(reason);
  }

  cork(): void { this.socket.cork(); }
  uncork(): void { this.socket.uncork(); }
  close(): void { this.finish('closed by client'); }
}

/** A byte stream (Redis RESP, MQTT). */
export class RawTcp extends RawBase {
  constructor(host: string, port: number, handlers: RawHandlers) {
    super(host, port, handlers);
    this.socket.once('connect', () => handlers.onOpen());
  }
  protected onChunk(chunk: Buffer): void { this.handlers.onData(chunk, 0, chunk.length, 2); }
  write(data: Buffer | string): void { if (!this.closed) this.socket.write(data); }
}

const OP_TEXT = 1;
const OP_BINARY = 2;
const OP_CLOSE = 8;
const OP_PING = 9;
const OP_PONG = 10;
const ZERO_MASK = Buffer.alloc(4);

/** A WebSocket client. Messages are delivered whole (servers here never fragment small frames). */
export class RawWs extends RawBase implements WsClient {
  private upgraded = false;
  private pending: Buffer | null = null;

  constructor(host: string, port: number, path: string, handlers: RawHandlers, protocol?: string) {
    super(host, port, handlers);
    this.socket.once('connect', () => {
      const key = randomBytes(16).toString('base64');
      this.socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
          (protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : '') + '\r\n',
      );
    });
  }

  protected onChunk(chunk: Buffer): void {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    let pos = 0;
    if (!this.upgraded) {
      const headerEnd = buf.indexOf('\r\n\r\n');
      if (headerEnd < 0) {
        if (buf.length > 16384) return this.finish('upgrade response too large');
        this.pending = buf;
        return;
      }
      const status = buf.toString('latin1', 0, buf.indexOf('\r\n'));
      if (!/^HTTP\/1\.1 101/.test(status)) return this.finish(`upgrade refused: ${status}`);
      this.upgraded = true;
      pos = headerEnd + 4;
      this.handlers.onOpen();
      if (this.closed) return;
    }
    const len = buf.length;
    while (pos + 2 <= len) {
      const b0 = buf[pos]!;
      const b1 = buf[pos + 1]!;
      let size = b1 & 0x7f;
      let header = 2;
      if (size === 126) {
        if (pos + 4 > len) break;
        size = buf.readUInt16BE(pos + 2);
        header = 4;
      } else if (size === 127) {
        if (pos + 10 > len) break;
        size = Number(buf.readBigUInt64BE(pos + 2));
        header = 10;
      }
      if (b1 & 0x80) header += 4; // servers must not mask; tolerate it by skipping the key
      const start = pos + header;
      const end = start + size;
      if (end > len) break;
      const op = b0 & 0x0f;
      if (op === OP_PING) this.sendFrame(buf.subarray(start, end), OP_PONG);
      else if (op === OP_CLOSE) return this.finish(`closed by server (${size >= 2 ? buf.readUInt16BE(start) : 'no code'}${size > 2 ? ': ' + buf.toString('utf8', start + 2, end) : ''})`);
      else if (op !== OP_PONG) this.handlers.onData(buf, start, end, op);
      if (this.closed) return;
      pos = end;
    }
    if (pos < len) this.pending = buf.subarray(pos);
  }

  /** Sends one message; the payload is copied into the frame, so the caller may reuse it. */
  sendFrame(payload: Buffer | Uint8Array, opcode = OP_BINARY): void {
    if (this.closed) return;
    const size = payload.length;
    const header = size < 126 ? 6 : size < 65536 ? 8 : 14;
    const frame = Buffer.allocUnsafe(header + size);
    frame[0] = 0x80 | opcode;
    if (size < 126) frame[1] = 0x80 | size;
    else if (size < 65536) { frame[1] = 0x80 | 126; frame.writeUInt16BE(size, 2); }
    else { frame[1] = 0x80 | 127; frame.writeBigUInt64BE(BigInt(size), 2); }
    ZERO_MASK.copy(frame, header - 4); // a zero mask key leaves the payload unchanged
    frame.set(payload, header);
    this.socket.write(frame);
  }

  sendText(text: string): void { this.sendFrame(Buffer.from(text, 'utf8'), OP_TEXT); }
}

export const WS_TEXT = OP_TEXT;
export const WS_BINARY = OP_BINARY;

/** Joins a leftover partial message with the next chunk (for stream protocols inside a transport). */
export class StreamBuffer {
  private rest: Buffer | null = null;
  /** Returns the bytes to parse: buf[start, end) prefixed with what was left over last time. */
  take(buf: Buffer, start: number, end: number): Buffer {
    const part = start === 0 && end === buf.length ? buf : buf.subarray(start, end);
    if (!this.rest) return part;
    const joined = Buffer.concat([this.rest, part]);
    this.rest = null;
    return joined;
  }
  keep(buf: Buffer, from: number): void {
    if (from < buf.length) this.rest = Buffer.from(buf.subarray(from)); // copy: small, and detaches the chunk
  }
}

/** What a target adapter needs from a WebSocket client; RawWs and LibWs both provide it. */
export interface WsClient {
  readonly closed: boolean;
  sendFrame(payload: Buffer | Uint8Array, opcode?: number): void;
  sendText(text: string): void;
  cork(): void;
  uncork(): void;
  close(): void;
}

/** A WebSocket client on the `ws` package, as an application would use it: every send is its own
 * socket write (ws frames and writes each message at once), masks with a random key, and parses
 * with ws's own receiver. Used for the publisher of the "single" regime (one message per write). */
export class LibWs implements WsClient {
  private readonly ws: WebSocket;
  closed = false;

  constructor(host: string, port: number, path: string, private readonly handlers: RawHandlers, protocol?: string) {
    this.ws = new WebSocket(`ws://${host}:${port}${path}`, protocol ? [protocol] : [], { perMessageDeflate: false });
    this.ws.on('open', () => { (this.ws as unknown as { _socket: Socket })._socket.setNoDelay(true); handlers.onOpen(); });
    this.ws.on('message', (data: Buffer, isBinary: boolean) => { markChunk(); handlers.onData(data, 0, data.length, isBinary ? OP_BINARY : OP_TEXT); });
    this.ws.on('error', (err) => this.finish(err.message));
    this.ws.on('close', (code) => this.finish(`closed (${code})`));
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.ws.terminate();
    this.handlers.onClose(reason);
  }

  /** Copies nothing: ws frames the payload at once (the caller may reuse it after the call). */
  sendFrame(payload: Buffer | Uint8Array, opcode = OP_BINARY): void {
    if (!this.closed) this.ws.send(payload, { binary: opcode === OP_BINARY });
  }
  sendText(text: string): void { if (!this.closed) this.ws.send(text); }
  cork(): void {}
  uncork(): void {}
  close(): void { this.finish('closed by client'); }
}

/** A WebSocket client for a target: the `ws` package when `lib` (the single-publisher regime's
 * publisher), else the hand-rolled RawWs. */
export function openWs(lib: boolean | undefined, host: string, port: number, path: string, handlers: RawHandlers, protocol?: string): WsClient {
  return lib ? new LibWs(host, port, path, handlers, protocol) : new RawWs(host, port, path, handlers, protocol);
}
