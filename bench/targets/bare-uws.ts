/** Bare uWebSockets.js pub/sub: no auth, no history, payload forwarded as is (the ceiling). */
import { startNodeServer } from './node-server.js';
import { packageVersion } from './versions.js';
import { tinyProtocolClient } from './tiny-protocol.js';
import type { Target } from './types.js';

export const bareUws: Target = {
  name: 'bare-uws',
  describe: 'uWebSockets.js topics with no auth, no history, no envelope (ceiling for our stack)',
  unavailable: () => undefined,
  version: () => `uWebSockets.js ${packageVersion('uWebSockets.js')}`,
  start: (options) => startNodeServer('bare-uws-server.ts', 'bare-uws', options),
  client: tinyProtocolClient,
};
