/** Who may open a WebSocket, decided at the upgrade before any frame is read. Connections awaiting
 * `hello` are counted apart from authenticated ones: they have their own server-wide and per-IP
 * caps and do not count towards `maxConnections`, so sockets that never say hello cannot lock
 * authenticated clients out. When the server-wide cap of connections awaiting hello is reached,
 * the one that has waited longest is evicted to make room (a real client says hello within a
 * round trip; a silent socket never does), so even silent sockets from many addresses cannot
 * keep new clients out. All state is per server instance and bounded by open sockets (an IP's
 * entry leaves with its last connection). */
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { ServerConfig } from '../core/config.js';
import { ErrorCode, LimitCause } from '../protocol/index.js';
import { TidingsError, limitExceeded } from '../core/errors.js';
import { addCount } from '../lib/counts.js';

export type AdmissionLimits = Pick<ServerConfig, 'maxConnections' | 'maxPendingHellos' | 'maxPendingHellosPerIp' | 'maxConnectionsPerIp'>;

/** Why an upgrade is refused: the HTTP status line and a short body. */
export interface Refusal { status: string; message: string }

/** A connection awaiting hello, as admission tracks it. */
export interface PendingConnection { readonly ip: string; evict(): void }

export class ConnectionAdmission {
  /** Connections awaiting hello, oldest first (a Set keeps insertion order). */
  private readonly pendingSet = new Set<PendingConnection>();
  private authenticatedCount = 0;
  private readonly pendingByIp = new Map<string, number>();
  private readonly openByIp = new Map<string, number>();

  constructor(private readonly limits: AdmissionLimits) {}

  /** Connections that said hello. */
  get authenticated(): number { return this.authenticatedCount; }
  /** Connections awaiting hello. */
  get awaitingHello(): number { return this.pendingSet.size; }

  /** Whether a new connection from `ip` may be upgraded; may evict the longest-waiting connection
   * awaiting hello to make room. */
  check(ip: string): Refusal | undefined {
    const l = this.limits;
    if (this.authenticatedCount >= l.maxConnections) return { status: '503 Service Unavailable', message: 'connection limit reached' };
    if ((this.openByIp.get(ip) ?? 0) >= l.maxConnectionsPerIp) return { status: '429 Too Many Requests', message: 'too many connections from this address' };
    if ((this.pendingByIp.get(ip) ?? 0) >= l.maxPendingHellosPerIp) return { status: '429 Too Many Requests', message: 'too many connections awaiting hello from this address' };
    if (this.pendingSet.size >= l.maxPendingHellos) {
      const oldest = this.pendingSet.values().next().value;
      // evict() closes the socket, whose close handler calls closed(): the slot is free after it.
      if (oldest) { this.forget(oldest); oldest.evict(); }
    }
    return undefined;
  }

  /** A connection opened (it awaits hello). */
  opened(connection: PendingConnection): void {
    this.pendingSet.add(connection);
    addCount(this.pendingByIp, connection.ip, 1);
    addCount(this.openByIp, connection.ip, 1);
  }

  /** The connection said hello. False (and nothing changes) when `maxConnections` authenticated
   * connections are open already: others got there between its upgrade and its hello. */
  authenticate(connection: PendingConnection): boolean {
    if (this.authenticatedCount >= this.limits.maxConnections) return false;
    this.forget(connection);
    this.authenticatedCount++;
    return true;
  }

  /** An HTTP stream (SSE, a waiting long-poll) from `ip` takes one of the `maxConnections` slots
   * of authenticated connections and one of its address's `maxConnectionsPerIp`, as a WebSocket
   * does (without the latter, one address could hold every slot with streams); a TidingsError
   * (and nothing taken) when either is full. Give it back with release(ip). */
  acquire(ip: string): TidingsError | undefined {
    if (this.authenticatedCount >= this.limits.maxConnections) return new TidingsError(ErrorCode.SERVER_UNAVAILABLE, 'connection limit reached (server.maxConnections)');
    if ((this.openByIp.get(ip) ?? 0) >= this.limits.maxConnectionsPerIp) {
      return limitExceeded(LimitCause.CONNECTIONS, `too many connections from this address (server.maxConnectionsPerIp: ${this.limits.maxConnectionsPerIp})`);
    }
    this.authenticatedCount++;
    addCount(this.openByIp, ip, 1);
    return undefined;
  }

  /** A slot taken by acquire(ip) is free again. */
  release(ip: string): void {
    this.authenticatedCount--;
    addCount(this.openByIp, ip, -1);
  }

  /** A connection given to opened() closed. */
  closed(connection: PendingConnection, wasAuthenticated: boolean): void {
    if (wasAuthenticated) this.authenticatedCount--;
    else this.forget(connection);
    addCount(this.openByIp, connection.ip, -1);
  }

  private forget(connection: PendingConnection): void {
    if (this.pendingSet.delete(connection)) addCount(this.pendingByIp, connection.ip, -1);
  }
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

/** The client address of a uWS request (clientIp of its peer and, when configured, the trusted
 * proxy header); read synchronously, as uWS requires. */
export function requestAddress(res: HttpResponse, req: HttpRequest, trustedProxyHeader: string): string {
  return clientIp(Buffer.from(res.getRemoteAddressAsText()).toString(), trustedProxyHeader === '' ? '' : req.getHeader(trustedProxyHeader));
}
