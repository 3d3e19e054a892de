/** Counts of transport events the broker never sees (metrics, admin dashboard). One per server. */
export class TransportCounters {
  /** Connections that ended with 1006 and no close frame: a link that dropped, or a send buffer
   * past server.sendBufferHardLimitBytes (uWS reports both alike). */
  cutOff = 0;
  /** WebSocket upgrades refused: 503 at server.maxConnections, 429 at a per-address cap. */
  refusedUpgrades = 0;
}
