/** Redis's answers that mean "not you": wrong credentials, a missing password, an ACL user lacking
 * a command, a database that does not exist. Retrying cannot fix them (an operator must), so a
 * start fails at once on one rather than waiting out redis.connectTimeoutMs, and a running node
 * says so loudly instead of reconnecting quietly (docs/operations.md, "Redis refuses the node"). */

export type RedisRefusalReason = 'WRONGPASS' | 'NOAUTH' | 'NOPERM' | 'DB';

const REFUSALS: Array<[RegExp, RedisRefusalReason]> = [
  [/^WRONGPASS\b/, 'WRONGPASS'],
  [/^NOAUTH\b/, 'NOAUTH'],
  [/^NOPERM\b/, 'NOPERM'],
  [/^ERR (invalid )?DB index/i, 'DB'],
];

/** The refusal `message` (an ioredis error's) is, or undefined for anything retrying may fix. */
export function refusalOf(message: string): RedisRefusalReason | undefined {
  return REFUSALS.find(([pattern]) => pattern.test(message))?.[1];
}

/** A start refused by Redis: `reason` is stable, the message one line naming where and why. */
export class RedisRefusedError extends Error {
  readonly code = 'REDIS_REFUSED';
  constructor(readonly reason: RedisRefusalReason, message: string) {
    super(message);
    this.name = 'RedisRefusedError';
  }
}
