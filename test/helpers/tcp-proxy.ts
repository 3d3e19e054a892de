/** A TCP relay between a client and a real server, to make the network misbehave: `freeze()` stops
 * relaying on the open connections without closing them (a dead link: no close event, no data),
 * like a laptop lid closing or a NAT dropping its entry. New connections relay normally. */
import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** Connections relayed so far. */
  readonly accepted: number;
  freeze(): void;
  /** From now on, accept connections but relay nothing on them (a server that never answers). */
  blackhole(): void;
  /** From now on, answer any WebSocket upgrade request with 403 and close (a corporate proxy
   * that breaks upgrades); plain HTTP still relays. */
  refuseUpgrades(): void;
  /** Ends freeze() and blackhole(): the dead connections are closed (both ends see it) and new
   * ones relay again, like a network that comes back. */
  heal(): void;
  /** From now on, keep what the server sends on the `index`-th connection accepted (0: the first)
   * instead of relaying it: that connection's answers are late, the others' are not. */
  hold(index: number): void;
  /** What hold() keeps now on that connection (empty when nothing, or not held). */
  held(index: number): Buffer;
  /** Relays what hold() kept (in one write: the client reads it at once), and relays normally again. */
  release(index: number): void;
  /** Relays the first `bytes` of what hold() kept and keeps holding the rest (a link cut after it
   * is cut there: mid-event, mid-chunk). */
  releasePart(index: number, bytes: number): void;
  /** On connections accepted from now on: the first one to send a chunk that `match` accepts has
   * that chunk and everything it sends after it kept instead of relayed to the server (its
   * requests have not reached the server; the answers to earlier ones still flow). Resolves with
   * that connection's index. One at a time. `match` sees each chunk before it is relayed. */
  holdRequests(match: (chunk: Buffer, index: number) => boolean): Promise<number>;
  /** Relays what holdRequests() kept, in order, and relays normally again. */
  releaseRequests(index: number): void;
  /** Drops every open relay (both ends see the TCP connection close). */
  reset(): void;
  /** Connections accepted from now on relay to `port` (a load balancer moving to another node). */
  retarget(port: number): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, host = '127.0.0.1'): Promise<TcpProxy> {
  let target = targetPort;
  type Pair = { client: net.Socket; upstream: net.Socket; frozen: boolean; index: number; held?: Buffer[] | undefined; heldRequests?: Buffer[] | undefined };
  const pairs = new Set<Pair>();
  let accepted = 0;
  let requestHold: { from: number; match: (chunk: Buffer, index: number) => boolean; found: (index: number) => void } | undefined;
  let blackhole = false;
  let refuseUpgrades = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(target, host);
    const pair: Pair = { client, upstream, frozen: blackhole, index: accepted++ };
    pairs.add(pair);
    client.on('data', (chunk: Buffer) => {
      if (refuseUpgrades && /\r\nupgrade:\s*websocket/i.test(chunk.toString('latin1'))) {
        client.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
        upstream.destroy();
        return;
      }
      if (requestHold && pair.index >= requestHold.from && !pair.heldRequests && requestHold.match(chunk, pair.index)) {
        pair.heldRequests = [];
        requestHold.found(pair.index);
        requestHold = undefined;
      }
      if (pair.heldRequests) pair.heldRequests.push(chunk);
      else if (!pair.frozen) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (pair.held) pair.held.push(chunk);
      else if (!pair.frozen) client.write(chunk);
    });
    const end = () => { pairs.delete(pair); client.destroy(); upstream.destroy(); };
    client.on('close', () => { if (!pair.frozen) end(); });
    upstream.on('close', () => { if (!pair.frozen) end(); });
    client.on('error', () => {});
    upstream.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    get accepted() { return accepted; },
    freeze() { for (const pair of pairs) pair.frozen = true; },
    blackhole() { blackhole = true; },
    refuseUpgrades() { refuseUpgrades = true; },
    heal() {
      blackhole = false;
      for (const pair of [...pairs]) if (pair.frozen) { pairs.delete(pair); pair.client.destroy(); pair.upstream.destroy(); }
    },
    hold(index) {
      for (const pair of pairs) if (pair.index === index) pair.held ??= [];
    },
    held(index) {
      return Buffer.concat([...pairs].find((pair) => pair.index === index)?.held ?? []);
    },
    release(index) {
      for (const pair of pairs) {
        if (pair.index !== index || !pair.held) continue;
        // One write: chunk by chunk, Nagle's algorithm would hold all but the first until the
        // client's delayed ACK, and the client read them tens of ms apart.
        if (pair.held.length > 0) pair.client.write(Buffer.concat(pair.held));
        pair.held = undefined;
      }
    },
    releasePart(index, bytes) {
      for (const pair of pairs) {
        if (pair.index !== index || !pair.held) continue;
        const kept = Buffer.concat(pair.held);
        pair.client.write(kept.subarray(0, bytes));
        pair.held = [kept.subarray(bytes)];
      }
    },
    holdRequests(match) {
      return new Promise<number>((found) => { requestHold = { from: accepted, match, found }; });
    },
    releaseRequests(index) {
      for (const pair of pairs) {
        if (pair.index !== index || !pair.heldRequests) continue;
        for (const chunk of pair.heldRequests) pair.upstream.write(chunk);
        pair.heldRequests = undefined;
      }
    },
    reset() {
      for (const pair of pairs) { pair.client.destroy(); pair.upstream.destroy(); }
      pairs.clear();
    },
    retarget(port) { target = port; },
    async close() {
      for (const pair of pairs) { pair.client.destroy(); pair.upstream.destroy(); }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Drops every relay (Redis links reconnect through the proxy) and holds the reconnecting
 * subscriber's SUBSCRIBE naming `channel` from Redis: resolves with that connection's index for
 * releaseRequests(), or undefined when no such SUBSCRIBE came within `ms`. */
export async function resetHoldingSubscribe(proxy: TcpProxy, channel: Buffer, ms = 10_000): Promise<number | undefined> {
  // RESP: ioredis names the command in lower case.
  const held = proxy.holdRequests((chunk) => /\r\nsubscribe\r\n/i.test(chunk.toString('latin1')) && chunk.includes(channel));
  proxy.reset();
  let timer: NodeJS.Timeout | undefined;
  const link = await Promise.race([held, new Promise<undefined>((r) => { timer = setTimeout(r, ms, undefined); })]);
  clearTimeout(timer);
  return link;
}
