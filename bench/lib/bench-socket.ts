/** A minimal Tidings protocol client over \`ws\` (no SDK), so a measurement adds as little as possible:
 * hello, requests matched to replies by id, pushes to one callback. */
import WebSocket from 'ws';
import { PROTOCOL_VERSIONS, decodeFrame, encodeFrame } from '../../src/protocol/index.js';

export class BenchSocket {
  private nextId = 1;
  private readonly waiting = new Map<number, (f: Record<string, unknown>) => void>();
  onPush: (f: Record<string, unknown>) => void = () => {};
  errors = 0;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const f = decodeFrame(new Uint8Array(data));
      if (f['t'] === 'ok' || f['t'] === 'err') {
        const w = this.waiting.get(f['id'] as number);
        if (w) { this.waiting.delete(f['id'] as number); w(f); } else if (f['t'] === 'err') this.errors++;
        return;
      }
      this.onPush(f);
    });
  }

  static async open(url: string, token: string): Promise<BenchSocket> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    const socket = new BenchSocket(ws);
    await socket.request({ t: 'hello', versions: [...PROTOCOL_VERSIONS], token });
    return socket;
  }

  send(frame: Record<string, unknown>): number {
    const id = this.nextId++;
    this.ws.send(encodeFrame({ ...frame, id }));
    return id;
  }

  request(frame: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.send(frame);
    return new Promise((resolve, reject) => {
      this.waiting.set(id, (f) => (f['t'] === 'ok' ? resolve(f['r'] as Record<string, unknown>) : reject(new Error(`${String(frame['t'])}: ${JSON.stringify(f['e'])}`))));
    });
  }

  close(): void { this.ws.close(); }
}
