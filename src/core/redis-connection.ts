/** One Redis connection with every wait bounded (docs/operations.md, "Redis down or slow").
 *
 * ioredis's own offline queue is off: a command it queued could time out for the caller and still
 * be sent after a reconnect, so a client told "failed, retry" would see its write applied twice.
 * Instead this class holds at most `maxQueuedCommands` commands while Redis is away, each for at
 * most `queueTimeoutMs`; one that times out is dropped from the queue and never sent. Commands in
 * flight when the connection drops fail at once (maxRetriesPerRequest 0) and are never resent. */
import { createHash } from 'node:crypto';
import { TLSSocket } from 'node:tls';
import { Redis } from 'ioredis';
import { ErrorCode } from '../protocol/index.js';
import type { RedisConfig } from './config.js';
import type { Logger } from './logger.js';
import { TidingsError } from './errors.js';
import { RedisRefusedError, refusalOf, type RedisRefusalReason } from './redis-refusal.js';

/** Drops a subscriber connection for good. ioredis re-sends its SUBSCRIBEs when a connection
 * becomes ready and never catches that promise: if the connection is dropped while its ready check
 * is answered (a stop during a reconnect), the re-sent SUBSCRIBE is rejected, unhandled, and that
 * ends the process. Turning the re-subscription off first means nothing is sent. */
export function disconnectSubscriber(subscriber: Redis): void {
  subscriber.options.autoResubscribe = false;
  subscriber.disconnect();
}

/** ioredis's socketTimeout timer outlives the connection it watched: a link that closed (Redis
 * restarted, a reset) with replies still awaited left it running, and when it fired it destroyed
 * the next connection, a healthy one, with whatever was in flight on it. Cleared at each close. */
export function clearSocketTimerOnClose(client: Redis): void {
  client.on('close', () => {
    const internals = client as unknown as { socketTimeoutTimer?: NodeJS.Timeout };
    clearTimeout(internals.socketTimeoutTimer);
    internals.socketTimeoutTimer = undefined;
  });
}

/** A subscriber connection only receives, so a link that went silent without closing (a frozen
 * host, a dropped NAT entry, a failover behind the same address) would never be noticed: no close,
 * its topics' subscribers never told, nothing heard again. A PING every `everyMs` while it is ready
 * gives the connection's socketTimeout (RedisConnection) a reply to wait for: unanswered, the link
 * is dropped and reconnects like any other. Returns the stop. */
export function heartbeatSubscriber(subscriber: Redis, everyMs: number): () => void {
  const timer = setInterval(() => {
    if (subscriber.status === 'ready') subscriber.ping().catch(() => { /* the socket timeout drops the link */ });
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** A Lua script run by name; `keys` undefined: the caller passes the number of keys first. */
interface LuaScript { sha: string; lua: string; keys: number | undefined }

export type ScriptArg = string | number | Uint8Array;

interface Held {
  run(): void;
  fail(err: TidingsError): void;
  timer: NodeJS.Timeout;
}

export class RedisConnection {
  readonly client: Redis;
  /** Commands waiting for the connection, oldest first (a Set keeps insertion order). */
  private readonly held = new Set<Held>();
  private closed = false;
  private wasReady = false;
  /** Times the connection came back after being lost, since start (tidings_redis_reconnects_total). */
  reconnects = 0;
  private readonly scripts = new Map<string, LuaScript>();
  /** The newest connection error, so a failed start says why (a wrong password is not "no answer"). */
  private lastError: string | undefined;
  /** Set while Redis refuses this node (wrong password, NOAUTH, ...): retrying will not help, so it
   * is logged once as an error and shown in /metrics; cleared when a connection is ready again. */
  private refusing: RedisRefusalReason | undefined;
  /** Ready and confirmed in the configured database (see the 'ready' listener); false from the
   * connection's close until the next confirmation. */
  private selected = false;
  /** While a command refusal is shown (commandRefused): the next check, and whether another
   * command was refused since the last one. */
  private recheck: NodeJS.Timeout | undefined;
  private refusedSinceCheck = false;
  /** While connect() waits: resolves it once the connection is usable. */
  private onUsable: (() => void) | undefined;
  /** While connect() waits: fails it at once on a refusal or a certificate it does not trust. */
  private refuseStart: ((err: Error) => void) | undefined;

  constructor(private readonly config: RedisConfig, private readonly log: Logger) {
    this.client = new Redis(config.url, {
      lazyConnect: true,
      // Off: publishes are batched per topic by the topic engine (engine/redis/publish-batches.ts),
      // which sends a whole iteration's batches in one write (inOneWrite). ioredis's auto-pipelining
      // costs a Pipeline object, its promise and result arrays per tick, which measured ~20 µs per
      // publish more (bench/redis-publish-path.ts; docs/benchmarks-redis.md, "batched publishes").
      enableAutoPipelining: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: config.commandTimeoutMs,
      // A link on which nothing arrives for linkTimeoutMs while replies are awaited is dropped and
      // reconnected (SERVER_UNAVAILABLE for what was in flight). Without it a link that went silent
      // without closing (frozen host, dropped NAT entry, failover behind one address) was kept for
      // good: every command timed out and stayed in ioredis's queue awaiting a reply, without
      // bound, and a reconnect's ready check that was never answered waited forever. Longer than
      // commandTimeoutMs: a Redis that is only slow keeps its connections (its late answers come).
      // Copied by duplicate(): the subscriber connections get it too (heartbeatSubscriber).
      socketTimeout: config.linkTimeoutMs,
      connectTimeout: config.connectTimeoutMs,
      retryStrategy: (attempt) => Math.min(config.reconnectMaxMs, config.reconnectMinMs * 2 ** Math.min(attempt - 1, 16)),
    });
    clearSocketTimerOnClose(this.client);
    this.client.on('ready', () => {
      const db = this.client.options.db ?? 0;
      if (db === 0) { this.usable(); return; }
      // ioredis SELECTs the database on each new connection but, when Redis refuses it (restarted
      // with fewer `databases`), only emits an error and goes on in database 0: this node would
      // then read and write another deployment's keys. So the database is confirmed first; a
      // refusal keeps the connection unusable (held commands time out as SERVER_UNAVAILABLE,
      // tidings_redis_refused{reason="DB"}) and reconnects at the usual backoff.
      this.client.select(db).then(() => this.usable(), (err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        if (refusalOf(message) === 'DB') { this.lastError = message; this.refused('DB'); }
        if (!this.closed && this.client.status === 'ready') this.client.disconnect(true);
      });
    });
    this.client.on('close', () => {
      this.selected = false;
      if (this.wasReady && !this.closed) log.warn({ redis: this.where() }, 'redis connection lost; reconnecting');
    });
    // Every failed reconnect attempt emits an error; the lost/back lines above say what matters.
    this.client.on('error', (err: Error) => {
      this.lastError = err.message;
      // No retry fixes a certificate: a start fails at once instead of after connectTimeoutMs as
      // "did not answer" (a running node keeps retrying: the certificate may be replaced).
      if (this.refuseStart && UNTRUSTED_CERTIFICATE.has((err as NodeJS.ErrnoException).code ?? '')) {
        this.refuseStart(new Error(`Redis at ${this.where()} presented a TLS certificate this node does not trust: ${err.message} ` +
          '(one from a CA of your own: NODE_EXTRA_CA_CERTS=/path/to/ca.pem; docs/operations.md, "Redis settings")'));
        return;
      }
      const refusal = refusalOf(err.message);
      if (refusal) this.refused(refusal);
      else log.debug({ err: err.message, redis: this.where() }, 'redis connection error');
    });
  }

  /** The connection is ready and in the configured database: commands go out from now on. */
  private usable(): void {
    if (this.wasReady) {
      this.reconnects++;
      this.log.info({ redis: this.where() }, 'redis connection back');
    }
    this.refusing = undefined;
    this.wasReady = true;
    this.selected = true;
    // Loaded before anything else is sent on the new connection (Redis may have restarted empty).
    for (const script of this.scripts.values()) this.load(script);
    this.flush();
    this.onUsable?.();
  }

  /** Connects once; rejects (naming the host, never the password) when Redis has not answered
   * within connectTimeoutMs. Later drops reconnect by themselves. */
  async connect(): Promise<void> {
    const timeout = new Promise<never>((_, reject) => {
      setTimeout(() => reject(new Error(this.tlsIncomplete()
        ? `Redis at ${this.where()} accepted the connection but did not complete a TLS handshake within ${this.config.connectTimeoutMs} ms (redis.connectTimeoutMs): ` +
          'rediss:// needs a port where Redis speaks TLS (its tls-port); for a plain-text port use redis://'
        : `Redis at ${this.where()} did not answer within ${this.config.connectTimeoutMs} ms (redis.connectTimeoutMs)${this.lastErrorSuffix()}`)), this.config.connectTimeoutMs).unref();
    });
    const ready = new Promise<void>((resolve) => {
      if (this.ready) resolve();
      else this.onUsable = resolve;
    });
    // Wrong credentials or database: no retry will fix them, so no waiting out the timeout.
    const refused = new Promise<never>((_, reject) => { this.refuseStart = reject; });
    this.client.connect().catch(() => { /* retried by the retry strategy; the timeout reports */ });
    try {
      await Promise.race([ready, timeout, refused]);
      await Promise.race([this.probePermissions(), refused]);
    } catch (err) {
      this.client.disconnect();
      throw err;
    } finally {
      this.refuseStart = undefined;
      this.onUsable = undefined;
    }
  }

  /** The TCP connection came up but TLS did not: still handshaking, or dropped before it was done.
   * A plain-text Redis port takes the TLS hello for the start of a command and never answers it. */
  private tlsIncomplete(): boolean {
    const stream: unknown = this.client.stream;
    const handshaking = stream instanceof TLSSocket && !stream.connecting && !stream.destroyed && this.client.status === 'connecting';
    return handshaking || (this.lastError ?? '').includes('before secure TLS connection was established');
  }

  /** Why Redis refuses this node now (undefined: it does not), for /metrics. */
  get refusal(): RedisRefusalReason | undefined {
    return this.refusing;
  }

  /** An ACL user may log in yet lack what every node needs: EVALSHA (every write) and PUBLISH
   * (fan-out between nodes). Asked once at start, with no effect: a script that does not exist
   * (NOSCRIPT is the permitted answer) and a publish to a channel nobody listens to. */
  private async probePermissions(): Promise<boolean> {
    const probes: Array<Promise<unknown>> = [
      this.client.evalsha('0'.repeat(40), 0),
      this.client.publish(`${this.config.keyPrefix}\u0000probe`, ''),
    ];
    let permitted = true;
    for (const probe of probes) {
      await probe.catch((err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        if (refusalOf(message)) { permitted = false; this.lastError = message; this.refused(refusalOf(message)!, 'rechecking'); }
        else if (!message.startsWith('NOSCRIPT')) throw err;
      });
    }
    return permitted;
  }

  /** Fails a start at once; once running, says so once per reason (every reconnect attempt
   * repeats it, at the usual backoff up to redis.reconnectMaxMs). `next`: what the node does about it. */
  private refused(reason: RedisRefusalReason, next: 'reconnecting' | 'rechecking' = 'reconnecting'): void {
    const why = `Redis at ${this.where()} refused this node${this.lastErrorSuffix()} (check redis.url's user, password and database, and the user's ACL)`;
    if (this.refuseStart) { this.refuseStart(new RedisRefusedError(reason, why)); return; }
    // One fixed msg per event (what varies is in the fields), so log queries can match it.
    if (this.refusing !== reason) this.log.error({ redis: this.where(), reason, detail: this.lastErrorSuffix().slice(2) || undefined, next }, 'redis refused this node (check redis.url\'s user, password and database, and the user\'s ACL)');
    this.refusing = reason;
  }

  /** A command refused on a connection that stays up (the ACL user changed while the node runs):
   * shown like a refused reconnect (log once, tidings_redis_refused). Nothing reconnects here, so
   * the node checks again every redis.reconnectMaxMs and clears it once a whole period passed
   * without a refused command and the start's probes (EVALSHA, PUBLISH) pass. */
  private commandRefused(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    const reason = refusalOf(message);
    if (reason !== 'NOPERM' && reason !== 'NOAUTH') return;
    this.lastError = message;
    this.refusedSinceCheck = true;
    this.refused(reason, 'rechecking');
    this.scheduleRecheck();
  }

  private scheduleRecheck(): void {
    if (this.recheck || this.closed) return;
    this.recheck = setTimeout(() => {
      const refusedMeanwhile = this.refusedSinceCheck;
      this.refusedSinceCheck = false;
      const check = refusedMeanwhile || !this.ready ? Promise.resolve(false) : this.probePermissions().catch(() => false);
      void check.then((permitted) => {
        this.recheck = undefined;
        // A reconnect since cleared it (or set another reason): that one's own handling stands.
        if (this.refusing !== 'NOPERM' && this.refusing !== 'NOAUTH') return;
        if (permitted && !this.refusedSinceCheck) {
          this.refusing = undefined;
          this.log.info({ redis: this.where() }, 'redis accepts this node\'s commands again');
        } else this.scheduleRecheck();
      });
    }, this.config.reconnectMaxMs);
    this.recheck.unref();
  }

  /** A command's failure: a refusal is noted (commandRefused), and the error comes back typed. */
  private failed(err: unknown, access: RedisAccess): never {
    this.commandRefused(err);
    return rethrowTyped(err, access);
  }

  /** Runs `command` now when connected, else holds it (bounded) until the connection is back.
   * Redis and ioredis failures come back as TidingsErrors with stable codes; `access` says what a
   * timed-out one may have done (rethrowTyped). */
  run<T>(command: (client: Redis) => Promise<T>, access: RedisAccess = 'command'): Promise<T> {
    const failed = (err: unknown): never => this.failed(err, access);
    // Nothing is held while the connection is usable: usable() sends what was held (flush) in the
    // tick that makes it usable, and ioredis emits 'close' (which makes it unusable) before it can
    // be ready again. So a command sent now cannot overtake a held one.
    if (this.ready) return command(this.client).catch(failed);
    if (this.closed) return Promise.reject(unavailable('the server is shutting down'));
    if (this.held.size >= this.config.maxQueuedCommands) {
      return Promise.reject(unavailable(`Redis is unreachable and ${this.held.size} commands already wait for it (redis.maxQueuedCommands)`));
    }
    return new Promise<T>((resolve, reject) => {
      const held: Held = {
        run: () => { command(this.client).catch(failed).then(resolve, reject); },
        fail: reject,
        timer: setTimeout(() => {
          this.held.delete(held);
          reject(unavailable(`Redis was unreachable for ${this.config.queueTimeoutMs} ms (redis.queueTimeoutMs); the command was not sent`));
        }, this.config.queueTimeoutMs),
      };
      this.held.add(held);
    });
  }

  /** Registers a Lua script, run with script(). Not ioredis's defineCommand: ioredis copies every
   * defined command onto each Pipeline it makes, and auto-pipelining makes one per tick, so with
   * ~30 scripts each call paid ~10 µs of property copies and garbage (bench/redis-publish-path.ts;
   * docs/benchmarks-redis.md, "batched publishes"). */
  defineScript(name: string, lua: string, keys?: number): void {
    const script = { sha: createHash('sha1').update(lua).digest('hex'), lua, keys };
    this.scripts.set(name, script);
    if (this.ready) this.load(script);
  }

  /** Runs a script defined with defineScript as EVALSHA (EVAL when Redis no longer has it, e.g.
   * after SCRIPT FLUSH; NOSCRIPT means it did not run). Replies hold Buffers, or strings when
   * `buffers` is false. Held and failed like run(). */
  script<T = unknown>(name: string, args: ScriptArg[], buffers = true, access: RedisAccess = 'command'): Promise<T> {
    const script = this.scripts.get(name);
    if (!script) return Promise.reject(new Error(`Lua script ${name} is not defined`));
    const numberOfKeys = script.keys ?? Number(args[0]);
    // ioredis sends a Buffer as bytes but any other Uint8Array as its String() ("1,2,3"): wrap them.
    const argv = (script.keys === undefined ? args.slice(1) : args)
      .map((a) => (a instanceof Uint8Array && !Buffer.isBuffer(a) ? Buffer.from(a.buffer, a.byteOffset, a.byteLength) : a));
    // ioredis has a Buffer-reply variant of every command; its typings omit those of EVAL and EVALSHA.
    const suffix = buffers ? 'Buffer' : '';
    return this.run((client) => {
      const commands = client as unknown as Record<string, (...a: ScriptArg[]) => Promise<T>>;
      return commands[`evalsha${suffix}`]!.call(client, script.sha, numberOfKeys, ...argv).catch((err: unknown) => {
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        return commands[`eval${suffix}`]!.call(client, script.lua, numberOfKeys, ...argv);
      });
    }, access);
  }

  /** Commands `issue` sends leave in one socket write (when connected; held ones wait as ever). */
  inOneWrite(issue: () => void): void {
    if (!this.ready) { issue(); return; }
    const { stream } = this.client;
    stream.cork();
    try {
      issue();
    } finally {
      stream.uncork();
    }
  }

  get ready(): boolean {
    return this.selected && this.client.status === 'ready';
  }

  /** A PING's round trip in seconds, for /metrics; undefined while the link is not ready or the
   * PING fails (bounded by redis.commandTimeoutMs). */
  async pingSeconds(): Promise<number | undefined> {
    if (!this.ready) return undefined;
    const start = process.hrtime.bigint();
    try {
      await this.client.ping();
    } catch {
      return undefined;
    }
    return Number(process.hrtime.bigint() - start) / 1e9;
  }

  /** Which Redis server process answers (it changes when Redis restarts or fails over), or
   * undefined when INFO does not say (a provider that hides it). */
  async runId(): Promise<string | undefined> {
    const info = await this.run((r) => r.info('server')).catch(() => '');
    return /^run_id:(\w+)/m.exec(info)?.[1];
  }

  async close(): Promise<void> {
    this.failHeld();
    if (this.client.status === 'ready') await this.client.quit().catch(() => this.client.disconnect());
    else this.client.disconnect();
  }

  /** Drops the connection at once (after close(), or instead of waiting for its QUIT). Commands in
   * flight fail as a lost connection; held ones fail as close() fails them. */
  disconnect(): void {
    this.failHeld();
    this.client.disconnect();
  }

  private failHeld(): void {
    this.closed = true;
    clearTimeout(this.recheck);
    for (const held of this.held) {
      clearTimeout(held.timer);
      held.fail(unavailable('the server is shutting down'));
    }
    this.held.clear();
  }

  /** Sends every held command, in arrival order, within this tick (so later commands, which go
   * straight out once the connection is usable, cannot overtake them). */
  private flush(): void {
    for (const held of this.held) {
      clearTimeout(held.timer);
      held.run();
    }
    this.held.clear();
  }

  private load(script: LuaScript): void {
    this.client.script('LOAD', script.lua).catch(() => { /* EVAL covers it (script()) */ });
  }

  /** `: <Redis's or the socket's reason>`, or nothing when there is none, or when it would show
   * the URL's credentials (ioredis does not put them in messages; this makes sure). */
  private lastErrorSuffix(): string {
    const message = this.lastError?.split('\n')[0]?.slice(0, 200);
    if (!message) return '';
    let credentials: string[] = [];
    try {
      const url = new URL(this.config.url);
      credentials = [url.username, url.password, decodeURIComponent(url.password)].filter((c) => c !== '');
    } catch { /* where() says the url is unparsable */ }
    return credentials.some((c) => message.includes(c)) ? '' : `: ${message}`;
  }

  private where(): string {
    return redisHostPort(this.config.url);
  }
}

/** host:port of a Redis URL, for logs and errors: never its user or password. */
export function redisHostPort(redisUrl: string): string {
  try {
    const url = new URL(redisUrl);
    return `${url.hostname}:${url.port || 6379}`;
  } catch {
    return '(unparsable url)';
  }
}

/** Node's codes for a TLS peer certificate that does not verify. */
const UNTRUSTED_CERTIFICATE: ReadonlySet<string> = new Set(['SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'ERR_TLS_CERT_ALTNAME_INVALID']);

function unavailable(message: string): TidingsError {
  return new TidingsError(ErrorCode.SERVER_UNAVAILABLE, message);
}

/** What a command does, for what its timeout may have done: a `read` changes nothing, a `write`
 * may have been applied; `command` (the default) for the node's own upkeep, which may do either. */
export type RedisAccess = 'read' | 'write' | 'command';

const TIMED_OUT: Record<RedisAccess, string> = {
  read: 'the read changed nothing and may be asked again',
  write: 'the write may have been applied',
  command: 'the command may have been applied',
};

/** ioredis and Redis failures as typed errors. Both retryable codes say whether the command may
 * have been applied: SERVER_UNAVAILABLE when it was never sent or the connection dropped under it,
 * TIMEOUT_ERROR when Redis may have applied it (unless it is a read) but its answer did not come
 * back in time. */
export function rethrowTyped(err: unknown, access: RedisAccess = 'command'): never {
  if (err instanceof TidingsError) throw err;
  const message = err instanceof Error ? err.message : String(err);
  if (message === 'Command timed out') {
    throw new TidingsError(ErrorCode.TIMEOUT_ERROR, `Redis did not answer in time (redis.commandTimeoutMs); ${TIMED_OUT[access]}`);
  }
  // Redis refusing for its own state, retryable once it changes: NOREPLICAS (min-replicas-to-write
  // with a replica lagging or gone) and MISCONF (a failed snapshot with stop-writes-on-bgsave-error).
  if (/^(OOM|LOADING|MASTERDOWN|READONLY|BUSY|TRYAGAIN|CLUSTERDOWN|NOPERM|NOAUTH|NOREPLICAS|MISCONF)\b/.test(message)) {
    throw new TidingsError(ErrorCode.SERVER_UNAVAILABLE, `Redis refused the command: ${message.split('.')[0]}`);
  }
  if (err instanceof Error && err.name === 'ReplyError') throw err; // a bug of ours (bad script): INTERNAL, logged
  throw new TidingsError(ErrorCode.SERVER_UNAVAILABLE, 'the connection to Redis was lost; the command may or may not have been applied');
}
