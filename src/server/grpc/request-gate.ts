/** What the HTTP/2 listener checks before and while it reads a call's request message. grpc-js
 * buffers a message whole (up to momento.maxMessageBytes) before the handler runs: without this, a
 * client with no credential could hold that much per stream, for as long as it liked sending it. */
import { constants, type ServerHttp2Stream } from 'node:http2';
import { ServerInterceptingCall, type ServerInterceptingCallInterface, type ServerInterceptor, type StatusObject } from '@grpc/grpc-js';
import { ErrorCode } from '../../protocol/index.js';
import type { Broker } from '../../engine/broker.js';
import { NO_HEADER_CREDENTIAL, credentialOf, type VerifiedGrants } from './calls.js';
import { statusError, toStatus } from './status.js';

/** Answers a call before its request has arrived, and resets what is left of its stream. grpc-js
 * sends the status but leaves the client's half of the stream open: it discards what still comes,
 * yet the call, its partial message and its slot of momento.maxConcurrentStreamsPerConnection last
 * until the client ends it. RST_STREAM NO_ERROR after a complete response is how HTTP/2 asks a
 * client to stop sending (RFC 9113 §8.1). grpc-js keeps the stream on its base call (the one this
 * interceptor, the only one, wraps), not in its API: test/momento/grpc-connection-timeouts.test.ts
 * fails if that changes. */
function refuse(call: ServerInterceptingCallInterface, status: Partial<StatusObject> & Pick<StatusObject, 'code' | 'details'>): void {
  call.sendStatus(status);
  (call as unknown as { stream: ServerHttp2Stream }).stream.close(constants.NGHTTP2_NO_ERROR);
}

/** A grpc-js server interceptor: a call whose service takes a header credential is answered
 * UNAUTHENTICATED from its metadata when that credential does not verify (its message is never
 * read; the handler reuses the Grant, calls.ts VerifiedGrants), and any call whose request has not
 * fully arrived (its message and the end of the client's stream: every Momento method takes one
 * message) within `readTimeoutMs` of its metadata is ended with DEADLINE_EXCEEDED, its buffer
 * dropped. */
export function requestGate(broker: Broker, grants: VerifiedGrants, readTimeoutMs: number): ServerInterceptor {
  return (method, call) => {
    const headerCredential = !NO_HEADER_CREDENTIAL.has(method.path.split('/')[1]!);
    let readDeadline: NodeJS.Timeout | undefined;
    const stopReadDeadline = () => clearTimeout(readDeadline);
    return new ServerInterceptingCall(call, {
      start: (next) => next({
        onReceiveMetadata: (metadata, nextMetadata) => {
          if (headerCredential) {
            try {
              grants.remember(metadata, broker.verifyCredential(credentialOf(metadata)));
            } catch (err) {
              refuse(call, toStatus(err));
              return;
            }
          }
          readDeadline = setTimeout(() => {
            refuse(call, statusError(ErrorCode.TIMEOUT_ERROR, `the request did not arrive within momento.requestReadTimeoutMs (${readTimeoutMs} ms)`));
          }, readTimeoutMs);
          nextMetadata(metadata);
        },
        onReceiveHalfClose: (nextHalfClose) => {
          stopReadDeadline();
          nextHalfClose();
        },
        onCancel: stopReadDeadline,
      }),
    });
  };
}
