/** A local HTTP receiver for outbound calls (webhooks, a push service): records each request (raw
 * body, headers, arrival order) and answers with what the test's `respond` decides, possibly late. */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received { path: string; headers: IncomingHttpHeaders; body: Buffer; text: string }
/** Status to answer, and optionally a delay (ms) or `hold` (a promise the answer waits for).
 * `reset`: no answer, the connection is destroyed once the request was read (a receiver that crashed). */
export interface Reply { status: number; delayMs?: number; hold?: Promise<void>; body?: string; headers?: Record<string, string>; reset?: true }

export class HttpReceiver {
  readonly received: Received[] = [];
  /** Requests answered so far (by the receiver, not merely received). */
  answered = 0;
  /** Requests whose connection closed before they were answered (the sender gave up on them). */
  abandoned = 0;
  respond: (r: Received, index: number) => Reply = () => ({ status: 200 });
  private waiters: Array<{ n: number; resolve: () => void }> = [];
  private constructor(readonly url: string) {}

  static async start(t: { teardown(fn: () => unknown): void }): Promise<HttpReceiver> {
    let receiver!: HttpReceiver;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const r: Received = { path: req.url ?? '', headers: req.headers, body, text: body.toString('utf8') };
        const index = receiver.received.push(r) - 1;
        const reply = receiver.respond(r, index);
        for (const w of [...receiver.waiters]) if (receiver.received.length >= w.n) { receiver.waiters.splice(receiver.waiters.indexOf(w), 1); w.resolve(); }
        let done = false;
        res.on('close', () => { if (!done) receiver.abandoned++; });
        const answer = () => { if (!res.destroyed) { done = true; res.writeHead(reply.status, reply.headers).end(reply.body ?? ''); receiver.answered++; } };
        if (reply.reset) { req.socket.destroy(); return; }
        const afterHold = () => (reply.delayMs ? setTimeout(answer, reply.delayMs) : answer());
        if (reply.hold) void reply.hold.then(afterHold); else afterHold();
      });
    });
    server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    receiver = new HttpReceiver(`http://127.0.0.1:${port}`);
    t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
    return receiver;
  }

  /** Resolves once `n` requests arrived in total. */
  until(n: number, ms = 5000): Promise<Received[]> {
    if (this.received.length >= n) return Promise.resolve(this.received);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${this.received.length} of ${n} requests within ${ms} ms`)), ms);
      this.waiters.push({ n, resolve: () => { clearTimeout(timer); resolve(this.received); } });
    });
  }

  json(): Array<Record<string, any>> { return this.received.map((r) => JSON.parse(r.text) as Record<string, any>); }

  /** Webhook events across every request received (each body is `{ events: [...] }`). */
  events(): Array<Record<string, any>> { return this.json().flatMap((b) => b['events'] as Array<Record<string, any>>); }

  /** Resolves once `n` webhook events arrived in total, however they were batched. */
  async untilEvents(n: number, ms = 5000): Promise<Array<Record<string, any>>> {
    const deadline = Date.now() + ms;
    while (this.events().length < n) {
      if (Date.now() > deadline) throw new Error(`only ${this.events().length} of ${n} events within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.events();
  }
}
