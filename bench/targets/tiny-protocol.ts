/** Client for the two bare servers (bare-uws, ws-broker): binary `s<topic>` subscribes (acked by a
 * text "s"), binary `p<len8><topic><payload>` publishes; a delivery is the payload bytes alone. */
import { openWs, type WsClient, WS_TEXT } from '../lib/raw-socket.js';
import type { ClientAdapter } from './types.js';

export const tinyProtocolClient: ClientAdapter = {
  connect(info, { topics, single }, hooks) {
    let settle!: { resolve: () => void; reject: (e: Error) => void };
    const ready = new Promise<void>((resolve, reject) => { settle = { resolve, reject }; });
    let isReady = false;
    let acks = topics.length;
    const ws: WsClient = openWs(single && topics.length === 0, info.host, info.port, '/ws', {
      onOpen() {
        ws.cork();
        for (const topic of topics) ws.sendFrame(Buffer.from(`s${topic}`, 'latin1'));
        ws.uncork();
        if (topics.length === 0) { isReady = true; settle.resolve(); }
      },
      onData(buf, s, e, opcode) {
        if (opcode !== WS_TEXT) return hooks.onItem(buf, s, e);
        if (!isReady && --acks === 0) { isReady = true; settle.resolve(); }
      },
      onClose(reason) { if (!isReady) settle.reject(new Error(reason)); hooks.onClose(reason); },
    });
    return {
      ready,
      publish(topic, payload) {
        const frame = Buffer.allocUnsafe(2 + topic.length + payload.length);
        frame[0] = 0x70;
        frame[1] = topic.length;
        frame.write(topic, 2, 'latin1');
        payload.copy(frame, 2 + topic.length);
        ws.sendFrame(frame);
      },
      cork: () => ws.cork(),
      uncork: () => ws.uncork(),
      close: () => ws.close(),
    };
  },
};
