/**
 * GET / on the admin server: the live page. One self-contained HTML document (inline CSS and JS,
 * no external URL of any kind) that subscribes to the admin server's /live stream and renders
 * connections by transport, handshake and message rates, close codes (1006 highlighted),
 * heartbeat misses, the slowest consumers and the live connections. Every value from the stream
 * is put in the page with textContent, never as HTML.
 */

/** Sent with the page: nothing may load or connect anywhere but the admin server itself. */
export const LIVE_PAGE_CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; " +
  "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const STYLE = `
:root {
  --bg: #f6f7f9; --card: #fff; --ink: #1c2430; --muted: #6b7686; --line: #e3e7ed;
  --accent: #2f6fdf; --ok: #1f9d55; --warn: #c77700; --bad: #d0342c; --bad-bg: #fdecea;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { display: flex; align-items: center; gap: 1rem; padding: .9rem 1.5rem;
  background: var(--card); border-bottom: 1px solid var(--line); }
header h1 { font-size: 1.05rem; margin: 0; font-weight: 650; }
header h1 span { color: var(--muted); font-weight: 400; }
#status { font-size: .8rem; padding: .15rem .6rem; border-radius: 99px; background: var(--line); }
#status.live { background: #e3f5ea; color: var(--ok); }
#status.down { background: var(--bad-bg); color: var(--bad); }
#updated { margin-left: auto; color: var(--muted); font-size: .85rem; }
main { padding: 1.25rem 1.5rem 2rem; max-width: 1400px; margin: 0 auto; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 1rem; }
.card, section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 1rem 1.1rem; }
.card h2, section h2 { font-size: .75rem; text-transform: uppercase; letter-spacing: .06em;
  color: var(--muted); margin: 0 0 .6rem; font-weight: 600; }
.big { font-size: 2rem; font-weight: 650; font-variant-numeric: tabular-nums; line-height: 1.1; }
.sub { color: var(--muted); font-size: .85rem; margin-top: .35rem; font-variant-numeric: tabular-nums; }
.trio { display: flex; gap: .9rem; }
.trio div { flex: 1; }
.trio .label { color: var(--muted); font-size: .78rem; white-space: nowrap; }
.hot { color: var(--bad); }
canvas { width: 100%; height: 36px; display: block; margin-top: .5rem; }
.grid2 { display: grid; grid-template-columns: minmax(0, 5fr) minmax(0, 7fr); gap: 1rem; margin-top: 1rem; }
@media (max-width: 900px) { .grid2 { grid-template-columns: 1fr; } }
section { margin-top: 1rem; overflow-x: auto; }
.grid2 section { margin-top: 0; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { font-size: .75rem; color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; }
td[data-col="meaning"] { white-space: normal; color: var(--muted); font-size: .85rem; }
td.path { max-width: 28rem; overflow: hidden; text-overflow: ellipsis; font-family: ui-monospace, monospace; font-size: .82rem; }
td.mono { font-family: ui-monospace, monospace; font-size: .82rem; }
tr.abnormal td, tr.abnormal td[data-col="meaning"] { background: var(--bad-bg); color: var(--bad); font-weight: 600; }
tr.watch td[data-col="code"] { color: var(--bad); }
tr.changed td { animation: flash 1.2s ease-out; }
@keyframes flash { from { background: #fff4c2; } }
.empty { color: var(--muted); padding: .6rem .5rem; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 4px; font-size: .78rem; background: var(--line); }
.badge.websocket { background: #e4ecfb; color: var(--accent); }
.badge.sse { background: #e3f5ea; color: var(--ok); }
.badge.longpoll { background: #fff1dc; color: var(--warn); }
.bar { display: inline-block; height: .5rem; background: var(--warn); border-radius: 2px; margin-right: .4rem; vertical-align: middle; }
.note { color: var(--muted); font-size: .8rem; margin: .4rem 0 0; }
`;

const SCRIPT = `
'use strict';
const $ = (id) => document.getElementById(id);
const CODE_NAMES = { '1000': 'normal', '1001': 'going away', '1002': 'protocol error', '1003': 'unsupported data',
  '1005': 'no status', '1006': 'abnormal (no close frame)', '1007': 'invalid payload', '1008': 'policy violation',
  '1009': 'message too big', '1010': 'missing extension', '1011': 'internal error', '1012': 'service restart',
  '1013': 'try again later', '1014': 'bad gateway', '1015': 'TLS failure', '3xxx': 'registered (3000-3999)',
  '4xxx': 'application (4000-4999)', other: 'other' };
const INITIATORS = ['client', 'server', 'proxy'];
const history = [];
let prevCloses = null;

function fmtNum(n) {
  if (n === null || n === undefined) return '\\u2013';
  if (n >= 100) return Math.round(n).toLocaleString('en-US');
  return (Math.round(n * 10) / 10).toLocaleString('en-US');
}
function fmtBytes(n) {
  if (n < 1024) return n + ' B';
  if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB';
  if (n < 1073741824) return (n / 1048576).toFixed(1) + ' MiB';
  return (n / 1073741824).toFixed(2) + ' GiB';
}
function fmtAge(ms) {
  const s = ms / 1000;
  if (s < 60) return s.toFixed(1) + ' s';
  const m = Math.floor(s / 60);
  if (m < 60) return m + ' m ' + Math.floor(s % 60) + ' s';
  return Math.floor(m / 60) + ' h ' + (m % 60) + ' m';
}
function cell(tr, text, cls, col) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  if (col) td.dataset.col = col;
  tr.appendChild(td);
  return td;
}
function fill(tbody, rows, cols, emptyText) {
  const frag = document.createDocumentFragment();
  if (rows.length === 0) {
    const tr = document.createElement('tr');
    const td = cell(tr, emptyText, 'empty');
    td.colSpan = cols;
    frag.appendChild(tr);
  }
  for (const tr of rows) frag.appendChild(tr);
  tbody.replaceChildren(frag);
}
function transportBadge(tr, t) {
  const td = cell(tr, '', '', 'transport');
  const b = document.createElement('span');
  b.className = 'badge ' + t;
  b.textContent = t;
  td.appendChild(b);
}
// The decoded protocol: engine.io shows its transports in order and its last Socket.IO events.
function protocolCell(tr, c) {
  if (!c.protocol) {
    cell(tr, '\u2013', '', 'protocol');
    return;
  }
  let text = c.protocol;
  if (c.transports && c.transports.length) text += ' \u00b7 ' + c.transports.join(' \u2192 ');
  if (c.last_events && c.last_events.length) text += ' \u00b7 ' + c.last_events.join(', ');
  if (c.compressed) text += ' \u00b7 compressed';
  const td = cell(tr, text, '', 'protocol');
  if (c.session) td.title = 'session ' + c.session;
}
function sparkline(canvas, values) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  canvas.width = w * dpr; canvas.height = h * dpr;
  const g = canvas.getContext('2d');
  g.scale(dpr, dpr);
  g.clearRect(0, 0, w, h);
  g.fillStyle = '#e3e7ed'; g.fillRect(0, h - 1, w, 1);
  if (values.length < 2) return;
  const max = Math.max(1, ...values);
  const step = w / 59;
  const x0 = w - (values.length - 1) * step;
  g.beginPath();
  values.forEach((v, i) => {
    const x = x0 + i * step, y = h - 2 - (v / max) * (h - 4);
    if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
  });
  g.strokeStyle = '#2f6fdf'; g.lineWidth = 1.5; g.stroke();
  g.lineTo(x0 + (values.length - 1) * step, h); g.lineTo(x0, h); g.closePath();
  g.fillStyle = 'rgba(47, 111, 223, .08)'; g.fill();
}

function renderCloses(closes) {
  // 1006 (TCP ended without a close frame) is always listed first: it is the one to watch.
  const byCode = { '1006': { client: 0, server: 0, proxy: 0, total: 0 } };
  for (const key of Object.keys(closes)) {
    const [code, who] = key.split('/');
    byCode[code] = byCode[code] || { client: 0, server: 0, proxy: 0, total: 0 };
    byCode[code][who] = (byCode[code][who] || 0) + closes[key];
    byCode[code].total += closes[key];
  }
  const codes = Object.keys(byCode).filter((c) => c !== '1006').sort();
  codes.unshift('1006');
  const rows = codes.map((code) => {
    const tr = document.createElement('tr');
    tr.dataset.code = code;
    if (code === '1006') tr.className = byCode[code].total > 0 ? 'abnormal' : 'watch';
    const changed = prevCloses && INITIATORS.some((w) => (prevCloses[code + '/' + w] || 0) !== (closes[code + '/' + w] || 0));
    if (changed) tr.classList.add('changed');
    cell(tr, code, 'mono', 'code');
    cell(tr, CODE_NAMES[code] || '', '', 'meaning');
    for (const w of INITIATORS) cell(tr, fmtNum(byCode[code][w]), 'num', w);
    cell(tr, fmtNum(byCode[code].total), 'num', 'total');
    return tr;
  });
  fill($('closes-body'), rows, 6, '');
  prevCloses = closes;
}

function renderSlowest(list) {
  const max = Math.max(1, ...list.map((c) => c.buffered_bytes));
  const rows = list.map((c) => {
    const tr = document.createElement('tr');
    tr.dataset.id = c.id;
    cell(tr, c.id, 'mono', 'id');
    cell(tr, c.client_id, '', 'client');
    cell(tr, c.path, 'path', 'path').title = c.path;
    cell(tr, fmtAge(c.age_ms), 'num', 'age');
    const td = cell(tr, '', 'num', 'buffered');
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.width = Math.round((c.buffered_bytes / max) * 60) + 'px';
    if (c.buffered_bytes > 0) td.appendChild(bar);
    td.appendChild(document.createTextNode(fmtBytes(c.buffered_bytes)));
    return tr;
  });
  fill($('slowest-body'), rows, 5, 'No live connections.');
}

function renderConnections(list, total) {
  const rows = list.map((c) => {
    const tr = document.createElement('tr');
    tr.dataset.id = c.id;
    cell(tr, c.id, 'mono', 'id');
    transportBadge(tr, c.transport);
    protocolCell(tr, c);
    cell(tr, c.client_id, '', 'client');
    cell(tr, c.peer, 'mono', 'peer');
    cell(tr, c.path, 'path', 'path').title = c.path;
    cell(tr, fmtAge(c.age_ms), 'num', 'age');
    cell(tr, fmtBytes(c.bytes_in) + ' / ' + fmtBytes(c.bytes_out), 'num', 'bytes');
    cell(tr, fmtNum(c.messages_in) + ' / ' + fmtNum(c.messages_out), 'num', 'messages');
    cell(tr, fmtBytes(c.buffered_bytes), 'num', 'buffered');
    return tr;
  });
  fill($('connections-body'), rows, 10, 'No live connections.');
  $('connections-count').textContent = list.length < total
    ? 'showing the newest ' + list.length + ' of ' + total : total + ' live';
}

function render(s) {
  $('ws').textContent = fmtNum(s.active.websocket);
  $('sse').textContent = fmtNum(s.active.sse);
  $('longpoll').textContent = fmtNum(s.active.longpoll);
  const r = s.rates;
  $('handshakes-rate').textContent = r ? fmtNum(r.handshakes) : '\\u2013';
  $('handshakes-sub').textContent = (r ? fmtNum(r.handshake_failures) : '\\u2013') + ' failures/s \\u00b7 '
    + fmtNum(s.totals.handshakes) + ' opened, ' + fmtNum(s.totals.handshake_failures) + ' failed';
  $('messages-rate').textContent = r ? fmtNum(r.messages_in) + ' / ' + fmtNum(r.messages_out) : '\\u2013';
  $('messages-sub').textContent = r ? fmtBytes(Math.round(r.bytes_in)) + '/s in \\u00b7 ' + fmtBytes(Math.round(r.bytes_out)) + '/s out' : '';
  const hb = s.heartbeat_misses;
  $('hb-client').textContent = fmtNum(hb.client || 0);
  $('hb-server').textContent = fmtNum(hb.server || 0);
  const hbNew = s.deltas ? s.deltas.heartbeat_misses : 0;
  $('hb-sub').textContent = hbNew > 0 ? '+' + hbNew + ' in the last ' + s.interval_ms + ' ms' : 'none in the last interval';
  $('hb-card').classList.toggle('hot', hbNew > 0);
  $('buffer-max').textContent = fmtBytes(s.send_buffer.max);
  $('buffer-sub').textContent = fmtBytes(s.send_buffer.sum) + ' queued in total \\u00b7 '
    + fmtNum(s.totals.slow_consumer_disconnects) + ' slow-consumer disconnects';
  if (r) { history.push(r.handshakes); if (history.length > 60) history.shift(); }
  sparkline($('handshakes-spark'), history);
  renderCloses(s.closes);
  renderSlowest(s.slowest);
  renderConnections(s.connections, s.connections_total);
  $('updated').textContent = 'updated ' + new Date(s.ts).toLocaleTimeString() + (s.interval_ms ? ' \\u00b7 every ' + s.interval_ms + ' ms' : '');
}

function setStatus(text, cls) {
  const el = $('status');
  el.textContent = text;
  el.className = cls;
  document.body.dataset.state = cls;
}

const source = new EventSource('live');
source.onopen = () => setStatus('live', 'live');
source.onerror = () => setStatus(source.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting', 'down');
source.onmessage = (ev) => {
  const snap = JSON.parse(ev.data);
  render(snap);
  window.socketlensSnapshot = snap;
  setStatus('live', 'live');
};
source.addEventListener('failure', (ev) => setStatus('error: ' + JSON.parse(ev.data).message, 'down'));
`;

const BODY = `
<header>
  <h1>socketlens <span>live</span></h1>
  <span id="status">connecting</span>
  <span id="updated"></span>
</header>
<main>
  <div class="cards">
    <div class="card">
      <h2>Live connections</h2>
      <div class="trio">
        <div><div class="big" id="ws">\u2013</div><div class="label">WebSocket</div></div>
        <div><div class="big" id="sse">\u2013</div><div class="label">SSE</div></div>
        <div><div class="big" id="longpoll">\u2013</div><div class="label">long-poll</div></div>
      </div>
    </div>
    <div class="card">
      <h2>Handshakes / s</h2>
      <div class="big" id="handshakes-rate">\u2013</div>
      <div class="sub" id="handshakes-sub"></div>
      <canvas id="handshakes-spark"></canvas>
    </div>
    <div class="card">
      <h2>Messages / s (in / out)</h2>
      <div class="big" id="messages-rate">\u2013</div>
      <div class="sub" id="messages-sub"></div>
    </div>
    <div class="card" id="hb-card">
      <h2>Heartbeat misses</h2>
      <div class="trio">
        <div><div class="big" id="hb-client">\u2013</div><div class="label">client silent</div></div>
        <div><div class="big" id="hb-server">\u2013</div><div class="label">backend silent</div></div>
      </div>
      <div class="sub" id="hb-sub"></div>
    </div>
    <div class="card">
      <h2>Send buffer (largest)</h2>
      <div class="big" id="buffer-max">\u2013</div>
      <div class="sub" id="buffer-sub"></div>
    </div>
  </div>
  <div class="grid2">
    <section>
      <h2>Close codes</h2>
      <table id="closes">
        <thead><tr><th>code</th><th>meaning</th><th class="num">client</th><th class="num">server</th><th class="num">proxy</th><th class="num">total</th></tr></thead>
        <tbody id="closes-body"></tbody>
      </table>
      <p class="note">Since the sidecar started. 1006: TCP ended without a close frame.</p>
    </section>
    <section>
      <h2>Slowest consumers (most bytes queued toward the client)</h2>
      <table id="slowest">
        <thead><tr><th>id</th><th>client id</th><th>path</th><th class="num">age</th><th class="num">buffered</th></tr></thead>
        <tbody id="slowest-body"></tbody>
      </table>
    </section>
  </div>
  <section>
    <h2>Connections <span id="connections-count"></span></h2>
    <table id="connections">
      <thead><tr><th>id</th><th>transport</th><th>protocol</th><th>client id</th><th>peer</th><th>path</th><th class="num">age</th><th class="num">bytes in / out</th><th class="num">messages in / out</th><th class="num">buffered</th></tr></thead>
      <tbody id="connections-body"></tbody>
    </table>
  </section>
</main>
`;

export const LIVE_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>socketlens live</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body data-state="connecting">
${BODY}
<script>${SCRIPT}</script>
</body>
</html>
`;
