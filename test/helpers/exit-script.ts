/** The script test/client/process-exit.test.ts runs in a child: it creates and closes clients
 * in the state TIDINGS_TEST_EXIT_MODE names, prints DONE and must then exit by itself. It imports
 * what an application script would, the client and ws, and nothing of tap or the server (which
 * made each child take seconds to start). */
import WebSocket from 'ws';
import { connect } from '../../src/client/index.js';

const WS = WebSocket as never;
const url = process.env['TIDINGS_TEST_EXIT_URL']!;
const token = process.env['TIDINGS_TEST_EXIT_TOKEN']!;
const mode = process.env['TIDINGS_TEST_EXIT_MODE'];
if (mode === 'open') {
  const sdk = connect({ url, token, webSocket: WS });
  await sdk.topics.subscribe('chat', 'x', { onItem() {} });
  await sdk.topics.publish('chat', 'x', 'hi');
  await sdk.cache.set('chat', 'k', 'v').catch(() => {});
  sdk.close();
} else if (mode === 'http') {
  const sdk = connect({ url, token, transport: 'http' });
  await sdk.topics.subscribe('chat', 'x', { onItem() {} });
  await sdk.topics.publish('chat', 'x', 'hi');
  sdk.close();
} else if (mode === 'down') {
  const sdk = connect({ url: 'http://127.0.0.1:1', token, webSocket: WS });
  const p = sdk.topics.publish('chat', 'x', 'queued');
  void sdk.topics.subscribe('chat', 'x', { onItem() {} });
  await new Promise((r) => setTimeout(r, 300));
  sdk.close();
  await p;
} else if (mode === 'hang') {
  const sdk = connect({ url, tokenProvider: () => new Promise<string>(() => {}), webSocket: WS });
  const p = sdk.topics.publish('chat', 'x', 'queued');
  await new Promise((r) => setTimeout(r, 200));
  sdk.close();
  await p;
}
console.log('DONE ' + Date.now());
