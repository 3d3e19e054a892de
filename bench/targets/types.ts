/** What every benchmark target provides: a server launcher (orchestrator side) and a client adapter
 * (load-generator side) that speaks the target's own protocol over a raw socket. */

/** Where and how to reach a started server; plain JSON (it travels to the load generator over IPC). */
export interface TargetInfo {
  name: string;
  host: string;
  port: number;
  /** Several nodes of one deployment: subscriber connection i goes to ports[i % length]; the
   * publisher stays on `port`. */
  ports?: number[];
  /** Tidings: signing key the load generator mints per-connection tokens with. */
  signingKey?: string;
}

export interface ClientHooks {
  /** One delivered item: the bytes holding the published payload are somewhere in buf[start, end). */
  onItem(buf: Buffer, start: number, end: number): void;
  onClose(reason: string): void;
}

export interface ClientConn {
  /** Resolves once connected, authenticated and every subscription is acknowledged. */
  readonly ready: Promise<void>;
  /** Publishes `payload` to `topic`. Must not keep a reference to `payload` (it is reused). */
  publish(topic: string, payload: Buffer): void;
  cork(): void;
  uncork(): void;
  close(): void;
}

export interface ConnectOptions {
  topics: readonly string[];
  token?: string;
  /** The single-publisher regime: a publisher connection (no topics) is a `ws` package client
   * (one socket write per message, as an application's would be) and subscribers decode each
   * message the way an application would (msgpackr for Tidings, JSON.parse for socket.io; the
   * peers' stream parsers already are their natural parsing). */
  single?: boolean;
}

export interface ClientAdapter {
  connect(info: TargetInfo, options: ConnectOptions, hooks: ClientHooks): ClientConn;
}

export interface StartOptions {
  port: number;
  /** taskset CPU list for the server process, e.g. "0". */
  cpus?: string;
  /** Node targets only: write a V8 CPU profile here on exit. */
  cpuProfDir?: string;
  /** Tidings only: HMAC signing key (base64url). */
  signingKey?: string;
}

export interface RunningTarget {
  pid: number;
  info: TargetInfo;
  /** Forces a full GC when the runtime allows it (Node targets started with --expose-gc); resolves
   * with the V8 heap in use afterwards (bytes) when known. */
  gc(): Promise<{ heapUsed: number; external: number; rss: number; heapTotal: number } | undefined>;
  stop(): Promise<void>;
}

export interface Target {
  name: string;
  /** Short description for the report (what runs, which transport). */
  describe: string;
  /** Undefined when runnable; otherwise why this target is skipped. */
  unavailable(): string | undefined;
  version(): string;
  start(options: StartOptions): Promise<RunningTarget>;
  client: ClientAdapter;
}
