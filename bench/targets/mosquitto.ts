/** mosquitto (MQTT 3.1.1, QoS 0) over plain TCP. Its WebSocket listener does not start with this
 * build ("Unable to start any listening sockets" after libwebsockets binds), so TCP it is. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawTcp, StreamBuffer } from '../lib/raw-socket.js';
import { commandLine, hasCommand, spawnServer, stopProcess } from '../lib/proc.js';
import type { ClientAdapter, Target } from './types.js';

const BINARY = '/usr/sbin/mosquitto';
const binary = () => (hasCommand('mosquitto') ? 'mosquitto' : BINARY);
let clientSeq = 0;

function varint(n: number): number[] {
  const out: number[] = [];
  do { let b = n % 128; n = Math.floor(n / 128); if (n > 0) b |= 0x80; out.push(b); } while (n > 0);
  return out;
}
function str(s: string): Buffer {
  const body = Buffer.from(s, 'utf8');
  const out = Buffer.alloc(2 + body.length);
  out.writeUInt16BE(body.length, 0);
  body.copy(out, 2);
  return out;
}
function packet(type: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type, ...varint(body.length)]), body]);
}

const client: ClientAdapter = {
  connect(info, { topics }, hooks) {
    let settle!: { resolve: () => void; reject: (e: Error) => void };
    const ready = new Promise<void>((resolve, reject) => { settle = { resolve, reject }; });
    let isReady = false;
    const stream = new StreamBuffer();
    const tcp: RawTcp = new RawTcp(info.host, info.port, {
      onOpen() {
        // Protocol "MQTT" level 4, clean session, keep-alive 0 (off), a unique client id.
        const header = Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 0]);
        tcp.write(packet(0x10, Buffer.concat([header, str(`b${process.pid}-${clientSeq++}`)])));
      },
      onData(buf, s, e) {
        const b = stream.take(buf, s, e);
        let pos = 0;
        while (pos + 2 <= b.length) {
          const type = b[pos]! >> 4;
          let len = 0;
          let mul = 1;
          let p = pos + 1;
          for (;;) {
            if (p >= b.length) { len = -1; break; }
            const byte = b[p++]!;
            len += (byte & 0x7f) * mul;
            mul *= 128;
            if (!(byte & 0x80)) break;
          }
          if (len < 0 || p + len > b.length) break;
          if (type === 3) { // PUBLISH, QoS 0: topic (2-byte length) then payload
            hooks.onItem(b, p + 2 + b.readUInt16BE(p), p + len);
          } else if (type === 2) { // CONNACK
            if (b[p + 1] !== 0) settle.reject(new Error(`mqtt connack code ${b[p + 1]}`));
            else if (topics.length === 0) { isReady = true; settle.resolve(); }
            else tcp.write(packet(0x82, Buffer.concat([Buffer.from([0, 1]), ...topics.map((t) => Buffer.concat([str(t), Buffer.from([0])]))])));
          } else if (type === 9 && !isReady) { // SUBACK
            isReady = true;
            settle.resolve();
          }
          pos = p + len;
        }
        stream.keep(b, pos);
      },
      onClose(reason) { if (!isReady) settle.reject(new Error(reason)); hooks.onClose(reason); },
    });
    return {
      ready,
      publish(topic, payload) { tcp.write(packet(0x30, Buffer.concat([str(topic), payload]))); },
      cork: () => tcp.cork(),
      uncork: () => tcp.uncork(),
      close: () => tcp.close(),
    };
  },
};

export const mosquitto: Target = {
  name: 'mosquitto',
  describe: 'mosquitto MQTT 3.1.1, QoS 0, plain TCP (its WebSocket listener fails to start here)',
  unavailable: () => (hasCommand('mosquitto') || hasCommand(BINARY) ? undefined : 'mosquitto not installed'),
  version: () => commandLine('sh', ['-c', `${binary()} -h | head -1`]) ?? 'unknown',
  async start({ port, cpus }) {
    const dir = mkdtempSync(join(tmpdir(), 'tidings-bench-mqtt-'));
    const conf = join(dir, 'mosquitto.conf');
    writeFileSync(conf, [
      `listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'set_tcp_nodelay true',
      'max_queued_messages 0', 'max_queued_bytes 0', 'max_connections -1', 'log_type error', 'log_dest stderr', '',
    ].join('\n'));
    const spawned = await spawnServer(binary(), ['-c', conf], { cpus, ready: { port } });
    return { pid: spawned.pid, info: { name: 'mosquitto', host: '127.0.0.1', port }, gc: async () => undefined, stop: () => stopProcess(spawned.child) };
  },
  client,
};
