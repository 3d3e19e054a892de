/** What the HTTP/2 listener checks before it reads a call's request message. grpc-js buffers a
 * message whole (up to momento.maxMessageBytes) before the handler runs: without this, a client
 * with no credential could hold that much per stream, for as long as it liked sending it. */
import { constants, type ServerHttp2Stream } from 'node:http2';
import { ServerInterceptingCall, type ServerInterceptingCallInterface, type ServerInterceptor, type StatusObject } from '@grpc/grpc-js';
import type { Broker } from '../../engine/broker.js';
import { NO_HEADER_CREDENTIAL, credentialOf, rememberGrant } from './calls.js';
import { toStatus } from './status.js';

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
 * read; the handler reuses the Grant, calls.ts callCredential). */
export function requestGate(broker: Broker): ServerInterceptor {
  return (method, call) => {
    const headerCredential = !NO_HEADER_CREDENTIAL.has(method.path.split('/')[1]!);
    return new ServerInterceptingCall(call, {
      start: (next) => next({
        onReceiveMetadata: (metadata, nextMetadata) => {
          if (headerCredential) {
            try {
              rememberGrant(metadata, broker.verifyCredential(credentialOf(metadata)));
            } catch (err) {
              refuse(call, toStatus(err));
              return;
            }
          }
          nextMetadata(metadata);
        },
      }),
    });
  };
}
