/** Every frame on the wire. One msgpack map per WebSocket binary message; `t` names the frame.
 * docs/protocol.md is the normative description; keep the two in step. */
import type { ErrorCode, LimitCause } from './codes.js';

/** A topic or list value: text stays a string, binary stays bytes, end to end. */
export type Value = string | Uint8Array;

// ---------------------------------------------------------------------------------------------
// Client -> server requests. Every request carries `id` (a client-chosen unsigned integer, unique
// among the connection's pending requests) and gets exactly one `ok` or `err` reply with that id.

export interface HelloRequest { t: 'hello'; id: number; versions: number[]; token: string; client?: string }
/** Swap the connection's credential for a fresh one without losing subscriptions. */
export interface AuthRequest { t: 'auth'; id: number; token: string }
export interface PingRequest { t: 'ping'; id: number }
export interface PublishRequest { t: 'pub'; id: number; cache: string; topic: string; value: Value }
/** Resume position: the last (page, seq) the client holds. */
export interface Position { page: number; seq: number }
export interface SubscribeRequest { t: 'sub'; id: number; cache: string; topic: string; after?: Position }
export interface UnsubscribeRequest { t: 'unsub'; id: number; cache: string; topic: string }

/** Requests added by feature modules (lists, scalars, moderation) share this shape: `t` is the
 * operation, the rest are its named arguments (docs/protocol.md lists each). */
export interface GenericRequest { t: string; id: number; [field: string]: unknown }

export type CoreRequest = HelloRequest | AuthRequest | PingRequest | PublishRequest | SubscribeRequest | UnsubscribeRequest;

// ---------------------------------------------------------------------------------------------
// Server -> client frames.

export interface OkReply<R = unknown> { t: 'ok'; id: number; r: R }
export interface WireError { code: ErrorCode; message: string; cause?: LimitCause | string }
export interface ErrReply { t: 'err'; id: number | null; e: WireError }

/** A published item, stamped by the server. Encoded once per publish and fanned out as is. */
export interface ItemFrame {
  t: 'item';
  cache: string;
  topic: string;
  value: Value;
  /** Per-topic sequence number within `page`, starting at 1. */
  seq: number;
  /** Identifies one incarnation of the topic; changes when the topic is reset. */
  page: number;
  /** The publisher token's tokenId, set by the server only. Absent when the token had none. */
  tokenId?: string;
  /** Server receive time, Unix milliseconds. */
  ts: number;
}

/** The subscriber missed items or the topic was reset. Items from `newSeq` in `page` follow. */
export interface DiscontinuityFrame { t: 'disc'; cache: string; topic: string; lastSeq: number; newSeq: number; page: number }

/** Liveness beacon; sent to every connection every heartbeat interval. */
export interface HeartbeatFrame { t: 'hb' }

/** The server ended one subscription (e.g. a refreshed token no longer covers it). */
export interface SubscriptionEndFrame { t: 'end'; cache: string; topic: string; e: WireError }

/** Sent just before the server closes the connection; `reconnect` mirrors the close-code range. */
export interface ByeFrame { t: 'bye'; code: number; reason: string; reconnect: boolean }

/** Advance warning, e.g. the token expires in `inMs`; the client should send `auth`. */
export interface NoticeFrame { t: 'notice'; kind: 'token_expiring'; inMs: number }

export type ServerFrame =
  | OkReply | ErrReply | ItemFrame | DiscontinuityFrame | HeartbeatFrame | SubscriptionEndFrame | ByeFrame | NoticeFrame;

// ---------------------------------------------------------------------------------------------
// Reply payloads (`r`) of the core requests.

export interface HelloResult {
  version: number;
  connectionId: string;
  /** Unix ms when the credential expires; null for a non-expiring API key. */
  expiresAt: number | null;
  tokenId?: string;
  heartbeatMs: number;
  limits: { maxFrameBytes: number; maxValueBytes: number; maxSubscriptions: number };
}
export interface AuthResult { expiresAt: number | null; tokenId?: string; ended: Array<{ cache: string; topic: string }> }
export interface PublishResult { seq: number; page: number }
/** The topic's position at subscribe time: the newest item is (page, seq); replayed items follow. */
export interface SubscribeResult { page: number; seq: number; replayed: number }
