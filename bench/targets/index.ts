/** Every benchmark target, in report order (Tidings first, then its ceiling, then the peers). */
import { tidings } from './tidings.js';
import { bareUws } from './bare-uws.js';
import { nats } from './nats.js';
import { redis } from './redis.js';
import { socketio } from './socketio.js';
import { wsBroker } from './ws-broker.js';
import { mosquitto } from './mosquitto.js';
import type { Target } from './types.js';

export const TARGETS: readonly Target[] = [tidings, bareUws, nats, redis, socketio, wsBroker, mosquitto];

export function targetByName(name: string): Target {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`unknown target "${name}" (known: ${TARGETS.map((x) => x.name).join(', ')})`);
  return t;
}
