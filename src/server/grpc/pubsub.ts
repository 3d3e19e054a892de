/** cache_client.pubsub.Pubsub: Publish (unary) and Subscribe (server stream). A Subscribe stream is
 * one session with one subscription, fed the same msgpack frames a WebSocket gets (reply, window
 * replay, live fan-out through the JS fan-out index); each frame is translated to a
 * _SubscriptionItem once, however many streams it goes to. */
import { Metadata, status, type ServerWritableStream, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { pubsub } from '@gomomento/generated-types';
import { common } from '@gomomento/generated-types/dist/common.js';
import { CloseCode, ErrorCode, LimitCause, decodeFrame, type Position } from '../../protocol/index.js';
import { TidingsError, limitExceeded } from '../../core/errors.js';
import { HEARTBEAT_KEY } from '../../engine/broker.js';
import type { Connection, Session } from '../../engine/session.js';
import { callerAddress, dispatch, unary, type GrpcDeps } from './calls.js';
import { statusError, toStatus } from './status.js';
import type { JsReceiver, SharedFrame } from '../js-fanout.js';

const pb = pubsub.cache_client.pubsub;
type SubscriptionRequest = InstanceType<typeof pb._SubscriptionRequest>;
type Stream = ServerWritableStream<SubscriptionRequest, Uint8Array>;

/** Translates broker frames to serialized _SubscriptionItems. Fan-out hands the same frame bytes to
 * every stream in one synchronous walk, so remembering the last translation makes it once per item. */
export class ItemTranslator {
  private lastFrame: Uint8Array | undefined;
  private lastResult: Translated = { kind: 'skip' };
  private readonly heartbeatBytes = new pb._SubscriptionItem({ heartbeat: new pb._Heartbeat() }).serialize();

  heartbeat(): Uint8Array {
    return this.heartbeatBytes;
  }

  /** The discontinuity Momento sends a subscription that has no page yet, naming the topic's page
   * and its newest number (items follow after it). Both SDKs keep it as their position, so a
   * stream ending before the first item resumes from there instead of live-only. */
  positionAnnouncement(at: { page: number; seq: number }): Uint8Array {
    return new pb._SubscriptionItem({
      discontinuity: new pb._Discontinuity({ last_topic_sequence: 0, new_topic_sequence: at.seq, new_sequence_page: at.page }),
    }).serialize();
  }

  translate(frame: Uint8Array): Translated {
    if (frame === this.lastFrame) return this.lastResult;
    const result = this.translateOnce(decodeFrame(frame));
    this.lastFrame = frame;
    this.lastResult = result;
    return result;
  }

  private translateOnce(f: Record<string, unknown>): Translated {
    switch (f['t']) {
      case 'item': {
        const value = f['value'];
        const item = new pb._TopicItem({
          topic_sequence_number: f['seq'] as number,
          sequence_page: f['page'] as number,
          publisher_id: typeof f['tokenId'] === 'string' ? f['tokenId'] : '',
          value: typeof value === 'string' ? new pb._TopicValue({ text: value }) : new pb._TopicValue({ binary: value as Uint8Array }),
        });
        return { kind: 'data', bytes: new pb._SubscriptionItem({ item }).serialize() };
      }
      case 'disc':
        // Ours names the next item (newSeq); Momento's new_topic_sequence is the number "after which
        // items resume", and both SDKs store it as their last seen and resume from it + 1. Sent as
        // newSeq, a stream ending before item newSeq arrived would resume past it: lost silently.
        return {
          kind: 'data',
          bytes: new pb._SubscriptionItem({
            discontinuity: new pb._Discontinuity({ last_topic_sequence: f['lastSeq'] as number, new_topic_sequence: (f['newSeq'] as number) - 1, new_sequence_page: f['page'] as number }),
          }).serialize(),
        };
      case 'hb':
        return { kind: 'data', bytes: this.heartbeatBytes };
      default:
        // bye (followed by close), token notices, and frames Momento has no message for (a moderator's
        // retract, moderation deliveries): nothing to send on this stream. A subscription's `end`
        // never reaches one: it follows only an in-band `auth` refresh, which a stream cannot send.
        return { kind: 'skip' };
    }
  }
}

type Translated = { kind: 'data'; bytes: Uint8Array } | { kind: 'skip' };

/** @gomomento/sdk puts its request timeout (5 s by default) on a subscription's first stream as a
 * gRPC deadline. Left to expire, it fires the app's onConnectionLost and the SDK resubscribes
 * 500 ms later, live-only if no item had arrived yet: items published in that half second never
 * reach the subscription. Ended OK this long before its deadline (a round trip's margin: the
 * deadline was sent as a relative timeout), the stream is resubscribed at once, with no callback
 * and no deadline (the SDK sets one on the first stream only), resuming from the last item. */
export const DEADLINE_MARGIN_MS = 1000;

/** One Subscribe stream as a broker Connection. */
class StreamConnection implements Connection, JsReceiver {
  private buffered = 0;
  ended = false;
  session: Session | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;

  constructor(private readonly call: Stream, private readonly deps: GrpcDeps, private readonly translator: ItemTranslator, private readonly onEnd: () => void) {}

  /** A live item from the fan-out index: every stream gets the same bytes, so the translator's
   * per-frame memo builds the protobuf once per item. */
  receive(shared: SharedFrame): void {
    this.send(shared.bytes);
  }

  send(frame: Uint8Array): boolean {
    if (this.ended) return false;
    const out = this.translator.translate(frame);
    return out.kind === 'data' ? this.write(out.bytes) : true;
  }

  write(bytes: Uint8Array): boolean {
    if (this.ended) return false;
    if (this.buffered + bytes.byteLength > this.deps.config.momento.maxStreamBufferBytes) {
      // The WebSocket slow-consumer rule: end it; the SDK resubscribes and resumes from the window.
      this.fail({ code: status.UNAVAILABLE, details: 'subscriber fell too far behind; resubscribe to resume', metadata: new Metadata() });
      return false;
    }
    this.buffered += bytes.byteLength;
    this.call.write(bytes, () => {
      this.buffered -= bytes.byteLength;
      if (this.session?.catchUps?.size) this.deps.broker.drain(this.session);
    });
    return true;
  }

  heartbeat(): Uint8Array { return this.translator.heartbeat(); }

  positionAnnouncement(at: { page: number; seq: number }): Uint8Array { return this.translator.positionAnnouncement(at); }

  bufferedAmount(): number { return this.buffered; }

  attach(key: string): void {
    if (this.ended) return;
    this.deps.fanout.attach(key, this);
  }

  detach(key: string): void {
    this.deps.fanout.detach(key, this);
  }

  /** The broker closes a session (token expired, shutdown): end the stream with the matching status. */
  close(code: number): void {
    if (code === CloseCode.TOKEN_EXPIRED || code === CloseCode.AUTHENTICATION_FAILED) this.fail(statusError(ErrorCode.AUTHENTICATION_ERROR, 'token expired'));
    // Not retryable: the SDKs stop on AUTHENTICATION_ERROR, as a WebSocket client does on 4504.
    else if (code === CloseCode.REVOKED) this.fail(statusError(ErrorCode.AUTHENTICATION_ERROR, 'credential revoked'));
    else this.fail({ code: status.UNAVAILABLE, details: code === CloseCode.SHUTDOWN ? 'server shutting down' : 'stream closed by the server', metadata: new Metadata() });
  }

  /** Ends the stream OK (the SDKs resubscribe at once, from their last item) `DEADLINE_MARGIN_MS`
   * before the call's deadline, if it has one. Real time: the deadline is the client's, not the
   * broker's clock. */
  endBeforeDeadline(deadline: number): void {
    // No grpc-timeout: Infinity. A timer holds at most 2^31 - 1 ms, and so does a grpc-js call's
    // deadline (it truncates grpc-timeout to an int32 and ends a longer one at once), so this
    // timer, shorter by the margin, always fits.
    if (this.ended || !Number.isFinite(deadline)) return;
    const delay = Math.max(0, deadline - DEADLINE_MARGIN_MS - Date.now());
    // cleanup() clears this timer, so it never fires on an ended stream.
    this.deadlineTimer = setTimeout(() => {
      this.cleanup();
      this.call.end();
    }, delay);
  }

  fail(error: { code: status; details: string; metadata: Metadata }): void {
    if (this.ended) return;
    this.cleanup();
    this.call.emit('error', error);
  }

  /** Detaches from fan-out and releases the session; idempotent. */
  cleanup(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.deadlineTimer);
    this.deps.fanout.detachAll(this);
    if (this.session) this.deps.broker.closed(this.session);
    this.onEnd();
  }
}

export function pubsubService(deps: GrpcDeps): UntypedServiceImplementation {
  const translator = new ItemTranslator();
  let streams = 0;
  const { broker, config } = deps;

  return {
    Publish: (call: Parameters<typeof unary<InstanceType<typeof pb._PublishRequest>, unknown>>[1], callback: Parameters<typeof unary>[2]) =>
      unary(deps, call, callback, async (session, r) => {
        // Node SDK topic calls name the cache only in the body.
        const value = r.value?.has_binary ? r.value.binary : r.value?.text ?? '';
        await dispatch(deps, session, { t: 'pub', cache: r.cache_name, topic: r.topic, value });
        return new common._Empty();
      }),

    Subscribe: (call: Stream) => {
      // A stream is a session too, so server.maxConnections bounds streams as well; the refusal
      // names the knob that was reached.
      const full = streams >= config.momento.maxStreams ? `${config.momento.maxStreams} streams, momento.maxStreams`
        : broker.sessions.size >= config.server.maxConnections ? `${config.server.maxConnections} connections, server.maxConnections` : undefined;
      if (full) {
        // The Node SDK reads no `err` trailer on a stream; it recognises this limit by "subscribers"
        // in the details, as Momento words it.
        call.emit('error', toStatus(limitExceeded(LimitCause.SUBSCRIPTIONS, `Too many subscribers (limit: ${full})`)));
        return;
      }
      streams++;
      const connection = new StreamConnection(call, deps, translator, () => { streams--; });
      call.on('cancelled', () => connection.cleanup());
      call.on('error', () => connection.cleanup());
      void subscribe(deps, call, connection).catch((err: unknown) => {
        if (!(err instanceof TidingsError)) deps.log.error({ err }, 'grpc subscribe failed unexpectedly');
        connection.fail(toStatus(err));
      });
    },
  };
}

async function subscribe(deps: GrpcDeps, call: Stream, connection: StreamConnection): Promise<void> {
  const session = await deps.broker.openAuthenticated(connection, deps.grants.of(call), callerAddress(call, deps.config.server.trustedProxyHeader));
  connection.session = session;
  if (connection.ended) return deps.broker.closed(session);
  const r = call.request;
  // Momento's resume: the next number wanted (0 = live only) and the page it belongs to. Ours: the
  // last position held. A page the topic no longer has (or 0) yields a discontinuity and the window.
  const after: Position | undefined = r.resume_at_topic_sequence_number > 0 ? { page: r.sequence_page, seq: r.resume_at_topic_sequence_number - 1 } : undefined;
  // subscribe() in the SDKs resolves on the first stream message: a heartbeat goes first, right
  // with the broker's reply and before any replayed item. A refusal instead ends the stream with
  // its status, which the SDK turns into TopicSubscribe.Error.
  const request = { t: 'sub' as const, id: 0, cache: r.cache_name, topic: r.topic, ...(after ? { after } : {}) };
  await deps.broker.dispatch(session, request, 'grpc', (at) => {
    connection.write(connection.heartbeat());
    // A live-only subscription (resume_at 0) is told where it starts, as Momento does: otherwise an
    // SDK that has had no item yet resubscribes live-only after a stream end (the Node SDK's first
    // stream ends before its deadline), missing what was published during the round trip.
    if (!after) connection.write(connection.positionAnnouncement(at));
  });
  // Periodic heartbeats (server.heartbeatMs) keep a quiet stream alive past idle timeouts.
  connection.attach(HEARTBEAT_KEY);
  // grpc-web streams have no deadline (their WebStream has no getDeadline): they are recycled by
  // momento.webStreamMaxMs instead.
  const deadline = (call as Partial<Pick<Stream, 'getDeadline'>>).getDeadline?.();
  if (deadline !== undefined) connection.endBeforeDeadline(deadline instanceof Date ? deadline.getTime() : deadline);
}
