/** Frame codec: encode an item frame (once per publish), decode a pub request (once per publish)
 * and decode an item frame (what a client SDK does per delivery).
 *   node --import tsx bench/micro/codec.ts */
import { decodeFrame, encodeFrame } from '../../src/protocol/index.js';
import { consume, measure, runIfMain, type MicroResult } from './harness.js';

export async function codecMicro(ms = 1000): Promise<MicroResult[]> {
  const value64 = Buffer.alloc(64, 0x2e);
  const text64 = '.'.repeat(64);
  const item = { t: 'item', cache: 'bench', topic: 'room-42', value: value64, seq: 123456, page: 1795339453529, ts: 1795339453529, tokenId: 'user-17' };
  const pub = encodeFrame({ t: 'pub', id: 9876, cache: 'bench', topic: 'room-42', value: value64 });
  const itemBytes = encodeFrame(item);
  const value4k = Buffer.alloc(4096, 0x2e);
  return [
    await measure('codec', 'encodeFrame(item, 64 B binary value)', () => consume(encodeFrame(item)), { ms }),
    await measure('codec', 'encodeFrame(item, 64 B text value)', () => consume(encodeFrame({ ...item, value: text64 })), { ms }),
    await measure('codec', 'encodeFrame(item, 4 KiB binary value)', () => consume(encodeFrame({ ...item, value: value4k })), { ms }),
    await measure('codec', `decodeFrame(pub request, ${pub.length} B)`, () => consume(decodeFrame(pub)), { ms }),
    await measure('codec', `decodeFrame(item, ${itemBytes.length} B)`, () => consume(decodeFrame(itemBytes)), { ms }),
  ];
}

runIfMain('codec.ts', () => codecMicro());
