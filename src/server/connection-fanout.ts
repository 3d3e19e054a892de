/** Fan-out for connections that are not uWS sockets (a gRPC Subscribe stream, an SSE response):
 * uWS `app.publish` only reaches its own WebSockets, so the server's Fanout.publish walks this
 * index too. One instance per server (no module state); key -> the connections attached to it. */
import type { Connection } from '../engine/session.js';

export class ConnectionFanout {
  private readonly byKey = new Map<string, Set<Connection>>();

  attach(key: string, connection: Connection): void {
    let set = this.byKey.get(key);
    if (!set) this.byKey.set(key, (set = new Set()));
    set.add(connection);
  }

  detach(key: string, connection: Connection): void {
    const set = this.byKey.get(key);
    if (!set) return;
    set.delete(connection);
    if (set.size === 0) this.byKey.delete(key);
  }

  /** Sends `frame` to every connection attached to `key`; the same bytes go to all of them, so a
   * transport that re-encodes (gRPC) can memoise per frame. */
  publish(key: string, frame: Uint8Array): void {
    const set = this.byKey.get(key);
    if (!set) return;
    // A send may detach (a slow consumer is ended): iterate over a snapshot only when needed.
    for (const connection of set.size === 1 ? set : [...set]) connection.send(frame);
  }

  /** Number of keys with at least one attached connection (metrics, tests). */
  get keys(): number {
    return this.byKey.size;
  }
}
