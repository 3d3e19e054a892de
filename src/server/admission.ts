/** Who may open a WebSocket, decided at the upgrade before any frame is read. Connections awaiting
 * `hello` are counted apart from authenticated ones: they have their own server-wide and per-IP
 * caps and do not count towards `maxConnections`, so sockets that never say hello cannot lock
 * authenticated clients out. All counters are per server instance and bounded by open sockets
 * (an IP's entry leaves with its last connection). */
import type { ServerConfig } from '../core/config.js';

export type AdmissionLimits = Pick<ServerConfig, 'maxConnections' | 'maxPendingHellos' | 'maxPendingHellosPerIp' | 'maxConnectionsPerIp'>;

/** Why an upgrade is refused: the HTTP status line and a short body. */
export interface Refusal { status: string; message: string }

export class ConnectionAdmission {
  private pending = 0;
  private authenticatedCount = 0;
  private readonly pendingByIp = new Map<string, number>();
  private readonly openByIp = new Map<string, number>();

  constructor(private readonly limits: AdmissionLimits) {}

  /** Connections that said hello. */
  get authenticated(): number { return this.authenticatedCount; }
  /** Connections awaiting hello. */
  get awaitingHello(): number { return this.pending; }

  /** Whether a new connection from `ip` may be upgraded. */
  check(ip: string): Refusal | undefined {
    const l = this.limits;
    if (this.authenticatedCount >= l.maxConnections) return { status: '503 Service Unavailable', message: 'connection limit reached' };
    if (this.pending >= l.maxPendingHellos) return { status: '503 Service Unavailable', message: 'too many connections awaiting hello' };
    if ((this.openByIp.get(ip) ?? 0) >= l.maxConnectionsPerIp) return { status: '429 Too Many Requests', message: 'too many connections from this address' };
    if ((this.pendingByIp.get(ip) ?? 0) >= l.maxPendingHellosPerIp) return { status: '429 Too Many Requests', message: 'too many connections awaiting hello from this address' };
    return undefined;
  }

  /** A connection from `ip` opened (it awaits hello). */
  opened(ip: string): void {
    this.pending++;
    bump(this.pendingByIp, ip, 1);
    bump(this.openByIp, ip, 1);
  }

  /** The connection said hello. False (and nothing changes) when `maxConnections` authenticated
   * connections are open already: others got there between its upgrade and its hello. */
  authenticate(ip: string): boolean {
    if (this.authenticatedCount >= this.limits.maxConnections) return false;
    this.pending--;
    bump(this.pendingByIp, ip, -1);
    this.authenticatedCount++;
    return true;
  }

  /** A connection opened by opened() closed. */
  closed(ip: string, wasAuthenticated: boolean): void {
    if (wasAuthenticated) this.authenticatedCount--;
    else { this.pending--; bump(this.pendingByIp, ip, -1); }
    bump(this.openByIp, ip, -1);
  }
}

function bump(map: Map<string, number>, key: string, delta: number): void {
  const n = (map.get(key) ?? 0) + delta;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}

/** The client address: the last entry of the trusted proxy header when one is configured and
 * present (the entry the proxy itself appended; earlier ones are whatever the client sent), else
 * the socket's peer address. */
export function clientIp(peer: string, proxyHeaderValue: string): string {
  if (proxyHeaderValue !== '') {
    const last = proxyHeaderValue.split(',').pop()!.trim();
    if (last !== '') return last.slice(0, 64);
  }
  return peer;
}
