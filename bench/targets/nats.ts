/** nats-server with its WebSocket listener; the NATS text protocol is spoken inside WebSocket
 * messages (a message may hold several protocol lines, or part of one, so it is parsed as a stream). */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openWs, type WsClient, StreamBuffer } from '../lib/raw-socket.js';
import { commandLine, hasCommand, spawnServer, stopProcess } from '../lib/proc.js';
import type { ClientAdapter, Target } from './types.js';

const CRLF = Buffer.from('\r\n');
const BINARY = '/usr/sbin/nats-server';
const binary = () => (hasCommand('nats-server') ? 'nats-server' : BINARY);

const client: ClientAdapter = {
  connect(info, { topics, single }, hooks) {
    let settle!: { resolve: () => void; reject: (e: Error) => void };
    const ready = new Promise<void>((resolve, reject) => { settle = { resolve, reject }; });
    let isReady = false;
    const stream = new StreamBuffer();
    const ws: WsClient = openWs(single && topics.length === 0, info.host, info.port, '/', {
      onOpen() {
        let setup = 'CONNECT {"verbose":false,"pedantic":false,"lang":"bench","version":"0","protocol":1,"echo":false}\r\n';
        topics.forEach((topic, i) => { setup += `SUB ${topic} ${i + 1}\r\n`; });
        ws.sendFrame(Buffer.from(setup + 'PING\r\n', 'latin1'));
      },
      onData(buf, s, e) {
        const b = stream.take(buf, s, e);
        let pos = 0;
        while (pos < b.length) {
          const nl = b.indexOf(CRLF, pos);
          if (nl < 0) break;
          const c0 = b[pos];
          if (c0 === 0x4d) { // MSG <subject> <sid> [reply] <size>
            let size = 0;
            for (let i = nl - 1, mul = 1; b[i] !== 0x20; i--, mul *= 10) size += (b[i]! - 0x30) * mul;
            const start = nl + 2;
            if (start + size + 2 > b.length) break;
            hooks.onItem(b, start, start + size);
            pos = start + size + 2;
            continue;
          }
          if (c0 === 0x50 && b[pos + 1] === 0x49) ws.sendFrame(Buffer.from('PONG\r\n')); // PING
          else if (c0 === 0x50 && !isReady) { isReady = true; settle.resolve(); } // PONG after setup
          else if (c0 === 0x2d) { // -ERR
            const err = b.toString('latin1', pos, nl);
            if (!isReady) settle.reject(new Error(`nats: ${err}`)); else hooks.onClose(`nats: ${err}`);
          }
          pos = nl + 2;
        }
        stream.keep(b, pos);
      },
      onClose(reason) { if (!isReady) settle.reject(new Error(reason)); hooks.onClose(reason); },
    });
    return {
      ready,
      publish(topic, payload) {
        ws.sendFrame(Buffer.concat([Buffer.from(`PUB ${topic} ${payload.length}\r\n`, 'latin1'), payload, CRLF]));
      },
      cork: () => ws.cork(),
      uncork: () => ws.uncork(),
      close: () => ws.close(),
    };
  },
};

export const nats: Target = {
  name: 'nats',
  describe: 'nats-server core pub/sub, WebSocket listener, NATS text protocol inside WebSocket messages',
  unavailable: () => (hasCommand('nats-server') || hasCommand(BINARY) ? undefined : 'nats-server not installed'),
  version: () => commandLine(binary(), ['--version']) ?? 'unknown',
  async start({ port, cpus }) {
    const dir = mkdtempSync(join(tmpdir(), 'tidings-bench-nats-'));
    const conf = join(dir, 'nats.conf');
    // TCP listener on a random port (-1); clients use the WebSocket one. Defaults otherwise
    // (max_pending 64 MB per client, no compression on the WebSocket listener).
    writeFileSync(conf, `listen: "127.0.0.1:-1"\nmax_connections: 100000\nwebsocket { listen: "127.0.0.1:${port}", no_tls: true, compression: false }\n`);
    const spawned = await spawnServer(binary(), ['-c', conf], { cpus, ready: /Server is ready/ });
    return { pid: spawned.pid, info: { name: 'nats', host: '127.0.0.1', port }, gc: async () => undefined, stop: () => stopProcess(spawned.child) };
  },
  client,
};
