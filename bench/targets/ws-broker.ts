/** A plain `ws` broker (Map of topic -> Set of sockets), same tiny protocol as bare-uws. */
import { startNodeServer } from './node-server.js';
import { packageVersion } from './versions.js';
import { tinyProtocolClient } from './tiny-protocol.js';
import type { Target } from './types.js';

export const wsBroker: Target = {
  name: 'ws-broker',
  describe: 'plain `ws` server with a topic map, one send per subscriber',
  unavailable: () => undefined,
  version: () => `ws ${packageVersion('ws')}`,
  start: (options) => startNodeServer('ws-broker-server.ts', 'ws-broker', options),
  client: tinyProtocolClient,
};
