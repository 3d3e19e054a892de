/** One-use tickets for EventSource, which cannot send an Authorization header: a page trades its
 * credential for a ticket over an authenticated POST, then puts only the ticket in the stream URL.
 * A ticket is random, lives `ticketTtlMs`, works once, and the credential it stands for is
 * verified again when it is used, so a leaked URL is worth little and never a long-lived secret. */
import { randomBytes } from 'node:crypto';
import { LimitCause } from '../protocol/index.js';
import { authenticationFailed, limitExceeded } from '../core/errors.js';
import type { Clock } from '../core/clock.js';

interface Ticket { token: string; expiresAt: number }

export class TicketBook {
  /** Insertion order is expiry order (one TTL for all), so expired tickets are at the front. */
  private readonly tickets = new Map<string, Ticket>();
  /** Unused tickets per credential. */
  private readonly perToken = new Map<string, number>();

  constructor(private readonly ttlMs: number, private readonly max: number, private readonly clock: Clock, private readonly maxPerToken = max) {}

  /** A ticket for an already verified credential. */
  issue(token: string): { ticket: string; expiresAt: number } {
    this.sweep();
    if (this.tickets.size >= this.max) throw limitExceeded(LimitCause.OPERATIONS_RATE, `at most ${this.max} unused tickets may be outstanding`);
    const held = this.perToken.get(token) ?? 0;
    if (held >= this.maxPerToken) throw limitExceeded(LimitCause.OPERATIONS_RATE, `at most ${this.maxPerToken} unused tickets may be outstanding per credential`);
    const ticket = randomBytes(24).toString('base64url');
    const expiresAt = this.clock.now() + this.ttlMs;
    this.tickets.set(ticket, { token, expiresAt });
    this.perToken.set(token, held + 1);
    return { ticket, expiresAt };
  }

  /** The credential behind `ticket`, which is spent by this call. */
  redeem(ticket: string): string {
    const entry = this.tickets.get(ticket);
    if (entry) this.forget(ticket, entry);
    if (!entry || entry.expiresAt <= this.clock.now()) throw authenticationFailed('the ticket is unknown, used or expired; get a new one (POST /v1/sse/tickets)');
    return entry.token;
  }

  get size(): number { return this.tickets.size; }

  private sweep(): void {
    const now = this.clock.now();
    for (const [ticket, entry] of this.tickets) {
      if (entry.expiresAt > now) break;
      this.forget(ticket, entry);
    }
  }

  private forget(ticket: string, entry: Ticket): void {
    this.tickets.delete(ticket);
    const held = (this.perToken.get(entry.token) ?? 1) - 1;
    if (held <= 0) this.perToken.delete(entry.token);
    else this.perToken.set(entry.token, held);
  }
}
