/** redis-server pub/sub over TCP (RESP). The publisher is an ioredis client; subscribers use a
 * minimal RESP reader so the load generator costs the same per delivery as for the other targets. */
import { Redis } from 'ioredis';
import { RawTcp, StreamBuffer } from '../lib/raw-socket.js';
import { commandLine, hasCommand } from '../lib/proc.js';
import { startRedisServer } from '../lib/redis-server.js';
import { packageVersion } from './versions.js';
import type { ClientAdapter, ClientConn, Target } from './types.js';

const CRLF = Buffer.from('\r\n');

/** Parses one RESP push array at `pos`; returns the position after it, or -1 if incomplete. */
function readPush(b: Buffer, pos: number, onMessage: (start: number, end: number) => void, onSubscribed: () => void, onError: (e: string) => void): number {
  const head = b.indexOf(CRLF, pos);
  if (head < 0) return -1;
  if (b[pos] !== 0x2a) { // not an array: -ERR or something unexpected
    if (b[pos] === 0x2d) onError(b.toString('latin1', pos, head));
    return head + 2;
  }
  const count = Number(b.toString('latin1', pos + 1, head));
  let p = head + 2;
  let kind = 0;
  let lastStart = 0;
  let lastEnd = 0;
  for (let i = 0; i < count; i++) {
    const le = b.indexOf(CRLF, p);
    if (le < 0) return -1;
    if (b[p] === 0x24) { // $<len> bulk string
      let len = 0;
      for (let j = p + 1; j < le; j++) len = len * 10 + (b[j]! - 0x30);
      const start = le + 2;
      if (start + len + 2 > b.length) return -1;
      if (i === 0) kind = b[start]!;
      lastStart = start;
      lastEnd = start + len;
      p = start + len + 2;
    } else {
      p = le + 2; // :<int>
    }
  }
  if (kind === 0x6d) onMessage(lastStart, lastEnd); // "message"
  else if (kind === 0x73) onSubscribed(); // "subscribe"
  return p;
}

function subscriber(host: string, port: number, topics: readonly string[], hooks: Parameters<ClientAdapter['connect']>[2]): ClientConn {
  let settle!: { resolve: () => void; reject: (e: Error) => void };
  const ready = new Promise<void>((resolve, reject) => { settle = { resolve, reject }; });
  let isReady = false;
  let acks = topics.length;
  const stream = new StreamBuffer();
  const tcp: RawTcp = new RawTcp(host, port, {
    onOpen() {
      let cmd = `*${topics.length + 1}\r\n$9\r\nSUBSCRIBE\r\n`;
      for (const t of topics) cmd += `$${Buffer.byteLength(t)}\r\n${t}\r\n`;
      tcp.write(cmd);
    },
    onData(buf, s, e) {
      const b = stream.take(buf, s, e);
      let pos = 0;
      while (pos < b.length) {
        const next = readPush(b, pos,
          (start, end) => hooks.onItem(b, start, end),
          () => { if (!isReady && --acks === 0) { isReady = true; settle.resolve(); } },
          (err) => { if (!isReady) settle.reject(new Error(`redis: ${err}`)); else hooks.onClose(`redis: ${err}`); });
        if (next < 0) break;
        pos = next;
      }
      stream.keep(b, pos);
    },
    onClose(reason) { if (!isReady) settle.reject(new Error(reason)); hooks.onClose(reason); },
  });
  return { ready, publish() { throw new Error('subscriber connections do not publish'); }, cork: () => tcp.cork(), uncork: () => tcp.uncork(), close: () => tcp.close() };
}

function publisher(host: string, port: number, hooks: Parameters<ClientAdapter['connect']>[2]): ClientConn {
  const redis = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  redis.on('error', () => {});
  redis.on('close', () => hooks.onClose('redis publisher closed'));
  const onFailed = (err: Error) => hooks.onClose(`redis publish failed: ${err.message}`);
  return {
    ready: redis.connect(),
    publish(topic, payload) { redis.publish(topic, Buffer.from(payload)).catch(onFailed); },
    cork() {},
    uncork() {},
    close() { redis.disconnect(); },
  };
}

const client: ClientAdapter = {
  connect(info, { topics }, hooks) {
    return topics.length === 0 ? publisher(info.host, info.port, hooks) : subscriber(info.host, info.port, topics, hooks);
  },
};

export const redis: Target = {
  name: 'redis',
  describe: 'redis-server PUBLISH/SUBSCRIBE over TCP (RESP), no persistence',
  unavailable: () => (hasCommand('redis-server') ? undefined : 'redis-server not installed'),
  version: () => `${commandLine('redis-server', ['--version'])?.replace(/ sha=.*/, '') ?? 'redis unknown'} (ioredis ${packageVersion('ioredis')})`,
  async start({ port, cpus }) {
    const server = await startRedisServer({ port, cpus, args: ['--protected-mode', 'no', '--maxclients', '19000', '--daemonize', 'no'] });
    return { pid: server.pid, info: { name: 'redis', host: '127.0.0.1', port }, gc: async () => undefined, stop: server.stop };
  },
  client,
};
