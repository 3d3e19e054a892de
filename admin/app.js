// The operator dashboard: an SDK client of the broker it watches. It signs in with the API key
// typed into the page (kept in memory, sent only in the WebSocket hello), asks for `adminStats`
// every second and draws the last two minutes with uPlot.
import { connect } from '/sdk/tidings.js';
import uPlot from '/admin/uplot.js';
import { AXIS, axisNumber, bytes, clock, num, percent, tileNumber } from '/admin/format.js';
import { chartRows } from '/admin/points.js';

const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;
const POINTS = 120;

const state = { sdk: undefined, timer: undefined, stopStatus: undefined, charts: [], series: undefined, previous: undefined };

// -- formatting ----------------------------------------------------------------------------------

const patternText = (p) => ('nameSuffix' in p ? `*${p.nameSuffix}` : 'namePrefix' in p ? `${p.namePrefix}*` : JSON.stringify(p));

function setText(id, text) { $(id).textContent = text; }

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** Gives each `<section data-table="id" data-empty="...">` card its table body (#id) and the line
 * shown while it is empty (#id-empty). */
function tableCards() {
  for (const card of document.querySelectorAll('section[data-table]')) {
    const body = document.createElement('tbody');
    body.id = card.dataset.table;
    card.querySelector('table').append(body);
    const empty = document.createElement('p');
    empty.id = `${card.dataset.table}-empty`;
    empty.className = 'muted empty';
    empty.textContent = card.dataset.empty;
    card.append(empty);
  }
}
tableCards();

function fillTable(bodyId, emptyId, rows) {
  // Each cell carries its column's name: a table that stacks on a phone labels its cells with it.
  const headings = [...$(bodyId).closest('table').querySelectorAll('thead th')].map((th) => th.textContent);
  $(bodyId).replaceChildren(...rows.map((cells) => {
    const tr = document.createElement('tr');
    cells.forEach((td, i) => { td.dataset.label = headings[i] ?? ''; });
    tr.append(...cells);
    return tr;
  }));
  $(emptyId).hidden = rows.length > 0;
}

// -- charts ----------------------------------------------------------------------------------------

const COLORS = ['#3b5bdb', '#e8590c', '#2b8a3e', '#ae3ec9'];

function lonePoint(u, seriesIdx) {
  const values = u.data[seriesIdx];
  let shown = 0;
  for (let i = 0; i < values.length && shown < 2; i++) if (values[i] != null) shown++;
  return shown === 1;
}

function makeChart(el, labels, yFormat) {
  const opts = {
    width: Math.max(200, el.clientWidth),
    height: 180,
    legend: { live: false },
    padding: [null, AXIS.right, null, null],
    cursor: { show: false },
    // The data so far, at least 10 s and at most the two minutes kept: lines fill the chart from the
    // first seconds on, and the axis stops rescaling once two minutes are in.
    scales: { x: { time: true, range: (u, min, max) => [max - Math.min((POINTS * POLL_MS) / 1000, Math.max(10, max - min)), max] }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.15)] } },
    axes: [
      { stroke: '#6b7280', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#eef0f3' }, space: 70, values: (u, ticks) => ticks.map(clock) },
      { stroke: '#6b7280', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#eef0f3', size: AXIS.ticks }, font: AXIS.font, gap: AXIS.gap, size: AXIS.size, values: (u, ticks) => ticks.map(yFormat) },
    ],
    // A line needs two points: a lone one (the first rate, a point between gaps) is drawn as a dot,
    // not left invisible.
    series: [{}, ...labels.map((label, i) => ({ label, stroke: COLORS[i], width: 2, spanGaps: false, points: { show: lonePoint, size: 6 } }))],
  };
  return new uPlot(opts, [[], ...labels.map(() => [])], el);
}

function createCharts() {
  const specs = [
    ['c-conn', ['connections', 'subscriptions'], axisNumber],
    ['c-rate', ['publishes/s', 'deliveries/s'], axisNumber],
    ['c-mem', ['resume windows', 'cache store'], (v) => `${axisNumber(v)}%`],
    ['c-events', ['limit events/s', 'slow consumers/s', 'cut off/s'], axisNumber],
  ];
  state.series = { t: [], values: specs.map(([, labels]) => labels.map(() => [])) };
  state.charts = specs.map(([id, labels, format]) => makeChart($(id), labels, format));
}

function resizeCharts() {
  for (const chart of state.charts) chart.setSize({ width: Math.max(200, chart.root.parentElement.clientWidth), height: 180 });
}

function pushPoint(stats) {
  const s = state.series;
  const rows = chartRows(stats, state.previous);
  s.t.push(stats.at / 1000);
  rows.forEach((values, chart) => values.forEach((v, i) => s.values[chart][i].push(v)));
  if (s.t.length > POINTS) {
    s.t.shift();
    for (const chart of s.values) for (const line of chart) line.shift();
  }
  state.charts.forEach((chart, i) => chart.setData([s.t, ...s.values[i]]));
  state.previous = stats;
}

// -- rendering -------------------------------------------------------------------------------------

function render(stats) {
  $('dashboard').removeAttribute('data-stale');
  $('stale').hidden = true;
  $('scope').hidden = stats.engine.kind !== 'redis';
  const down = stats.engine.redisLinks.filter((l) => !l.connected);
  $('redis-down').hidden = down.length === 0;
  if (down.length) {
    const which = stats.engine.redisLinks.length > 1 ? `shard ${down.map((l) => l.shard).join(', ')} of Redis is` : 'Redis is';
    const refused = down.filter((l) => l.refusal).map((l) => l.refusal);
    setText('redis-down', `This node's link to ${which} down${refused.length ? ` (refused: ${[...new Set(refused)].join(', ')}; check redis.url or the ACL)` : ''}: its requests that need Redis answer SERVER_UNAVAILABLE until the link is back.`);
  }
  setText('t-connections', tileNumber(stats.connections.open));
  setText('t-connections-sub', `of ${num(stats.connections.limit)}`);
  setText('t-subscriptions', tileNumber(stats.subscriptions));
  setText('t-topics', tileNumber(stats.topics.live));
  setText('t-topics-sub', `of ${num(stats.topics.limit)} · ${num(stats.topics.evicted)} evicted`);
  setText('t-publishes', stats.rates ? tileNumber(stats.rates.publishes) : '…');
  setText('t-published', `${num(stats.totals.published)} since start`);
  setText('t-deliveries', stats.rates ? tileNumber(stats.rates.deliveries) : '…');
  setText('t-delivered', `${num(stats.totals.delivered)} since start`);
  setText('t-window', bytes(stats.window.bytes));
  setText('t-window-sub', `of ${bytes(stats.window.limit)}`);
  $('m-window').style.width = `${Math.min(100, percent(stats.window.bytes, stats.window.limit))}%`;
  setText('t-store', bytes(stats.store.bytes));
  // A limit of 0 is no bound (Redis without maxmemory): nothing to measure against.
  const storeBounded = stats.store.limit > 0;
  setText('t-store-sub', `${storeBounded ? `of ${bytes(stats.store.limit)}` : 'no limit'} · ${num(stats.store.items)} ${stats.store.items === 1 ? 'item' : 'items'}`);
  $('m-store').parentElement.hidden = !storeBounded;
  if (storeBounded) $('m-store').style.width = `${Math.min(100, percent(stats.store.bytes, stats.store.limit))}%`;
  setText('t-slow', tileNumber(stats.slowConsumers.detaches));
  setText('t-slow-sub', `${num(stats.slowConsumers.detached)} catching up now`);
  setText('t-cutoff', tileNumber(stats.connections.cutOff));
  setText('t-refused', `${num(stats.connections.refused)} upgrades refused`);
  const limitEvents = Object.entries(stats.limitEvents).sort((a, b) => b[1] - a[1]);
  setText('t-limits', tileNumber(limitEvents.reduce((sum, [, n]) => sum + n, 0)));
  const ev = stats.window.evictions;
  setText('t-evictions', `${num(ev.perTopic + ev.total + ev.idle)} window evictions`);

  setText('groups-title', stats.groupCount > stats.groups.length ? `Moderator groups: the busiest ${num(stats.groups.length)} of ${num(stats.groupCount)}` : 'Moderator groups');
  fillTable('groups', 'groups-empty', stats.groups.map((g) => [
    cell(`${g.cache} / ${g.group}`),
    cell(patternText(g.pattern), 'mono'),
    cell(g.members.length ? g.members.map((m) => `${m.name} (${m.inFlight})`).join(', ') : 'none connected', g.members.length ? '' : 'warn'),
    cell(num(g.buffered), 'num'), cell(num(g.inFlight), 'num'), cell(num(g.redelivered), 'num'),
    cell(num(g.accepted), 'num'), cell(num(g.rejected), 'num'), cell(num(g.refused), g.refused ? 'num warn' : 'num'),
  ]));
  fillTable('top', 'top-empty', stats.topTopics.map((t) => [cell(`${t.cache} / ${t.topic}`), cell(num(t.perSecond), 'num'), cell(num(t.subscribers), 'num')]));
  fillTable('limits', 'limits-empty', limitEvents.map(([cause, n]) => [cell(cause, 'mono'), cell(num(n), 'num')]));
  fillTable('errors', 'errors-empty', stats.errors.map((e) => [cell(e.op, 'mono'), cell(e.code, 'mono'), cell(num(e.count), 'num')]));
  const closes = Object.entries(stats.closes).sort((a, b) => b[1] - a[1]);
  fillTable('closes', 'closes-empty', closes.map(([reason, n]) => [cell(reason.replaceAll('_', ' ')), cell(num(n), 'num')]));
  pushPoint(stats);
}

function showStatus(text, kind) {
  const el = $('status');
  el.dataset.state = kind;
  el.textContent = text;
  // Figures on screen while the server does not answer are its last ones, not current: say so.
  if (kind === 'reconnecting' && state.previous) {
    $('dashboard').dataset.stale = 'true';
    $('stale').textContent = `Not live: the figures below are from ${clock(state.previous.at / 1000)}, when the server last answered.`;
    $('stale').hidden = false;
  }
}

// -- session -------------------------------------------------------------------------------------

async function poll() {
  const sdk = state.sdk;
  if (!sdk) return;
  try {
    const stats = await sdk.connection.request({ t: 'adminStats' });
    if (state.sdk !== sdk) return; // signed out meanwhile
    render(stats);
    showStatus('live', 'open');
  } catch (err) {
    // Signing out closes the connection, failing this request: the sign-in card's status stands.
    if (state.sdk !== sdk) return;
    if (err.code === 'PERMISSION_ERROR') return signOut(`This key may not open the dashboard: ${err.message}`);
    showStatus(`no data: ${err.message}`, 'reconnecting');
  }
  if (state.sdk) state.timer = setTimeout(poll, POLL_MS);
}

async function signIn(key) {
  const sdk = connect({ url: location.origin, token: key, maxReconnectAttempts: 20, clientName: 'tidings-admin' });
  state.sdk = sdk;
  state.stopStatus = sdk.connection.onStatus((status) => {
    if (status.state === 'reconnecting') showStatus('reconnecting…', 'reconnecting');
    // A refused hello (bad or expired key) closes for good.
    if (status.state === 'closed' && state.sdk === sdk) signOut(status.error ? `Sign-in failed: ${status.error.message}` : 'Disconnected');
  });
  showStatus('connecting…', 'reconnecting');
  // The first answer decides: stats on screen, or back to the sign-in card with the reason.
  const first = await sdk.connection.request({ t: 'adminStats' });
  if (state.sdk !== sdk) return;
  $('login').hidden = true;
  $('dashboard').hidden = false;
  $('logout').hidden = false;
  $('key').value = '';
  createCharts();
  render(first);
  showStatus('live', 'open');
  state.timer = setTimeout(poll, POLL_MS);
}

function signOut(reason) {
  clearTimeout(state.timer);
  state.stopStatus?.();
  const sdk = state.sdk;
  Object.assign(state, { sdk: undefined, timer: undefined, stopStatus: undefined, previous: undefined });
  sdk?.close();
  for (const chart of state.charts) chart.destroy();
  state.charts = [];
  $('dashboard').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = reason ?? '';
  showStatus('not signed in', 'idle');
}

$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('login-error').textContent = '';
  const button = ev.submitter ?? ev.target.querySelector('button');
  button.disabled = true;
  try {
    await signIn($('key').value.trim());
  } catch (err) {
    signOut(err.code === 'PERMISSION_ERROR' ? `This key may not open the dashboard: ${err.message}` : `Sign-in failed: ${err.message}`);
  } finally {
    button.disabled = false;
  }
});

$('logout').addEventListener('click', () => signOut());
new ResizeObserver(() => resizeCharts()).observe(document.body);
