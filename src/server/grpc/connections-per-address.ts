/** momento.maxConnectionsPerIp: TCP connections one client address holds on the gRPC listener.
 * momento.maxConnections bounds them all; without a share per address one client could hold every
 * slot (and each slot's streams). Counted per address the socket comes from (a TCP-level proxy's
 * own); an address leaves the map with its last connection. */
import type { Socket } from 'node:net';
import { addCount } from '../../lib/counts.js';

export class ConnectionsPerAddress {
  private readonly open = new Map<string, number>();

  /** 0 = no cap. */
  constructor(private readonly max: number) {}

  /** Counts `connection` until it closes, or destroys it (false) when its address is at the cap. */
  admit(connection: Socket): boolean {
    if (this.max === 0) return true;
    const address = connection.remoteAddress ?? '';
    const count = this.open.get(address) ?? 0;
    if (count >= this.max) {
      connection.destroy();
      return false;
    }
    addCount(this.open, address, 1);
    connection.once('close', () => addCount(this.open, address, -1));
    return true;
  }
}
