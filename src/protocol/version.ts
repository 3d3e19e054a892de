/** Wire protocol versions this build speaks, newest first. The client offers a list in `hello`; the
 * server picks the highest it shares (docs/protocol.md, "Version negotiation"). */
export const PROTOCOL_VERSIONS = [1] as const;
export type ProtocolVersion = (typeof PROTOCOL_VERSIONS)[number];

/** WebSocket subprotocol a client may offer; the server echoes it when present. */
export const SUBPROTOCOL = 'tidings.v1';

/** Path of the WebSocket endpoint. */
export const WS_PATH = '/v1/ws';

export function negotiateVersion(offered: readonly number[]): ProtocolVersion | undefined {
  return PROTOCOL_VERSIONS.find((v) => offered.includes(v));
}
