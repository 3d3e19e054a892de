// The demo chat: a browser client of the moderation-input pattern, using the SDK bundle the broker
// serves. It asks the dev token route (standing in for an app backend) for a scoped token, loads
// the room's history, subscribes from the last history item (no gap, no duplicate; an empty
// history is read again once subscribed), and sends raw input to <room>-input for the moderator.
import { connect, ListFetch, TopicPublish } from '/sdk/tidings.js';

const $ = (id) => document.getElementById(id);
// `me` is this visitor's tokenId (`<name>#<random>`), unique even when two people pick one name.
const state = { sdk: undefined, subscription: undefined, stopStatus: undefined, me: '', room: '', cache: '' };

/** The name part of a tokenId: the demo's token route mints `<name>#<6 hex>`. */
function nameOf(tokenId) {
  return tokenId ? tokenId.replace(/#[0-9a-f]{6}$/, '') : 'anonymous';
}

async function fetchToken(name, room, spectator, tokenId) {
  const res = await fetch('/dev/token', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, room, spectator, tokenId }),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error?.message ?? `token request failed (${res.status})`);
  return body;
}

function showStatus(status) {
  const el = $('status');
  el.dataset.state = status.state;
  el.textContent = {
    idle: 'not connected', connecting: 'connecting…', open: 'connected',
    reconnecting: `reconnecting${status.attempt > 1 ? ` (try ${status.attempt})` : ''}…`,
    closed: `disconnected${status.error ? `: ${status.error.message}` : ''}`,
  }[status.state];
}

function timeOf(ms) {
  return ms ? new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '';
}

/** Shows a message at the end; `earlier` (join()'s second history read, whose items were published
 * before what came live meanwhile): in (page, seq) order, and not again if it came live. */
function addMessage({ author, text, ts, page, seq }, earlier = false) {
  const placed = earlier && seq !== undefined;
  if (placed && document.querySelector(`.msg[data-page="${page}"][data-seq="${seq}"]`)) return;
  $('empty')?.remove();
  const li = document.createElement('li');
  li.className = 'msg' + (author === state.me ? ' mine' : '');
  if (seq !== undefined) { li.dataset.seq = String(seq); li.dataset.page = String(page); }
  const meta = document.createElement('div');
  meta.className = 'meta';
  const who = document.createElement('span');
  who.className = 'author';
  who.textContent = nameOf(author);
  if (author) who.title = author;
  const when = document.createElement('time');
  when.textContent = timeOf(ts);
  meta.append(who, when);
  const body = document.createElement('div');
  body.className = 'text';
  body.textContent = text;
  li.append(meta, body);
  const later = placed ? [...$('messages').querySelectorAll('.msg[data-seq]')]
    .find((el) => Number(el.dataset.page) > page || (Number(el.dataset.page) === page && Number(el.dataset.seq) > seq)) : undefined;
  if (later) later.before(li);
  else appendToList(li);
}

/** A history element (listFetch withMeta) as addMessage takes it. */
function historyMessage(item) {
  return { author: item.tokenId, text: String(item.value), ts: item.ts, page: item.page, seq: item.seq };
}

function addRejected(text, reason) {
  const li = document.createElement('li');
  li.className = 'msg rejected';
  const body = document.createElement('div');
  body.className = 'text';
  body.textContent = text ?? '';
  const why = document.createElement('div');
  why.className = 'why';
  why.textContent = `Not posted: ${reason}`;
  li.append(body, why);
  appendToList(li);
}

function addSystem(text, id) {
  const li = document.createElement('li');
  li.className = 'sys';
  if (id) li.id = id;
  li.textContent = text;
  appendToList(li);
}

function appendToList(li) {
  const list = $('messages');
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(li);
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function notice(text) {
  const el = $('notice');
  el.textContent = text;
  el.hidden = !text;
}

// Inputs awaiting moderation, by their input (page, seq), so a rejection can show the text.
const sent = new Map();

async function join(name, room, spectator) {
  const first = await fetchToken(name, room, spectator);
  state.me = first.tokenId; state.room = first.room; state.cache = first.cache;
  const sdk = connect({
    url: location.origin,
    token: first.token,
    // A refresh keeps the tokenId: the server refuses a refreshed token that changes identity.
    tokenProvider: async () => (await fetchToken(name, room, spectator, first.tokenId)).token,
  });
  state.sdk = sdk;
  // Leave (or a later join) may come while this one still awaits: its remaining steps then stop.
  const left = () => state.sdk !== sdk;
  state.stopStatus = sdk.connection.onStatus(showStatus);
  showStatus(sdk.connection.status);
  sdk.connection.onPush((frame) => {
    if (frame.t === 'rejected' && frame.topic === `${state.room}-input`) {
      const key = `${frame.page}:${frame.seq}`;
      addRejected(sent.get(key), frame.reason);
      sent.delete(key);
    }
  });

  $('join').hidden = true;
  $('chat').hidden = false;
  $('room-title').textContent = `#${state.room}`;
  $('who').textContent = spectator ? `watching as ${name}` : `as ${name}`;
  $('text').focus();

  const history = await sdk.cache.listFetch(state.cache, state.room, { withMeta: true });
  if (left()) return;
  let resumeFrom;
  const read = history instanceof ListFetch.Hit ? history.items.length : 0;
  if (history instanceof ListFetch.Hit) {
    for (const item of history.items) {
      addMessage(historyMessage(item));
      if (item.seq !== undefined) resumeFrom = { page: item.page, seq: item.seq };
    }
  } else if (history.type === 'Error') {
    notice(`History unavailable: ${history.message()}`);
  }
  if (!resumeFrom) addSystem(history instanceof ListFetch.Hit ? 'Start of the history' : 'No messages yet. Say hello!', 'empty');

  // Who is here: the presence reply plus join/leave events (docs/presence.md).
  const here = new Set();
  const showHere = () => { $('here').textContent = here.size ? `Here: ${[...here].map(nameOf).sort().join(', ')}` : ''; };
  const sub = await sdk.topics.subscribe(state.cache, state.room, {
    presence: true,
    onJoin: (e) => { here.add(e.tokenId); showHere(); },
    onLeave: (e) => { here.delete(e.tokenId); showHere(); },
    resumeFrom,
    onItem: (item) => addMessage({ author: item.tokenId(), text: item.valueString(), ts: item.timestamp(), page: item.sequencePage(), seq: item.sequenceNumber() }),
    onRetraction: (r) => document.querySelector(`.msg[data-page="${r.target.page}"][data-seq="${r.target.seq}"]`)?.remove(),
    onDiscontinuity: () => addSystem('Some messages were missed while you were away'),
    onError: (e) => { if (!left()) notice(`Subscription ended: ${e.message()}`); },
  });
  if (left()) return;
  if (sub.type === 'Error') notice(`Cannot follow this room: ${sub.message()}`);
  else state.subscription = sub;
  if (read === 0 && sub.type !== 'Error') {
    // An empty history gives no position to resume from: the subscription started where the topic
    // was when the server took it, and what was posted between the read above and then is only in
    // the history. Read it again (addMessage skips what came live).
    const again = await sdk.cache.listFetch(state.cache, state.room, { withMeta: true });
    if (left()) return;
    if (again instanceof ListFetch.Hit) for (const item of again.items) addMessage(historyMessage(item), true);
  }
  const members = await sdk.topics.presence(state.cache, state.room);
  if (left()) return;
  if (members.type === 'Success') { for (const m of members.members) here.add(m.tokenId); showHere(); }
  // Offer notifications where the browser has Web Push (docs/push.md).
  $('notify').hidden = !('serviceWorker' in navigator && 'PushManager' in window);
}

/** Asks for notifications: subscribe this browser with the server's VAPID key, register it for
 * this user and follow the room. Pushes come only while the user is not in the room. The demo's
 * token covers one room, and a push subscription is pushed only what the token that registered
 * it may read (docs/push.md): enabling another room moves this browser's notifications there. */
async function enableNotifications() {
  const key = await state.sdk.notify.vapidPublicKey();
  if (key.type === 'Error') return notice(`Notifications unavailable: ${key.message()}`);
  if ((await Notification.requestPermission()) !== 'granted') return notice('Notifications were not allowed');
  const registration = await navigator.serviceWorker.register('/demo/sw.js', { scope: '/demo/' });
  const subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key.publicKey });
  const registered = await state.sdk.notify.registerPush(subscription.toJSON());
  const followed = registered.type === 'Success' ? await state.sdk.notify.follow(state.cache, state.room) : registered;
  notice(followed.type === 'Success' ? `You will be notified of #${state.room} while you are away (one room at a time in this demo: the last you enabled)` : `Notifications failed: ${followed.message()}`);
}

$('notify').addEventListener('click', () => enableNotifications().catch((err) => notice(`Notifications failed: ${err.message}`)));

$('join-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('join-error').textContent = '';
  const button = ev.submitter ?? ev.target.querySelector('button');
  button.disabled = true;
  try {
    await join($('name').value.trim(), $('room').value.trim().toLowerCase(), $('spectator').checked);
  } catch (err) {
    $('join-error').textContent = err.message;
  } finally {
    button.disabled = false;
  }
});

$('send-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = $('text');
  const text = input.value;
  if (!text.trim() || !state.sdk) return;
  input.value = '';
  notice('');
  const result = await state.sdk.topics.publish(state.cache, `${state.room}-input`, text);
  if (result instanceof TopicPublish.Success) sent.set(`${result.page}:${result.seq}`, text);
  else {
    notice(result.errorCode() === 'PERMISSION_ERROR'
      ? `You cannot post in this room (${result.errorCode()}): ${result.message()}`
      : `Not sent (${result.errorCode()}): ${result.message()}`);
    input.value = text;
  }
});

$('leave').addEventListener('click', () => {
  // Leaving is not a failure: stop listening before closing, so the status does not turn red.
  state.stopStatus?.();
  state.stopStatus = undefined;
  state.sdk?.close();
  state.sdk = undefined;
  state.subscription = undefined;
  sent.clear();
  showStatus({ state: 'idle' });
  $('messages').replaceChildren();
  $('here').textContent = '';
  notice('');
  $('chat').hidden = true;
  $('join').hidden = false;
});
