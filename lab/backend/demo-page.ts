// The page at "/": connects to this backend with the fallback-ladder client and shows what
// arrives. `?room=` picks the room, `?transports=sse,longpoll` forces a shorter ladder.

export function demoPage(nodeId: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>socketlens demo backend (${escapeHtml(nodeId)})</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 2rem; max-width: 50rem; }
  #status span { font-weight: bold; }
  #log { border: 1px solid #ccc; padding: .5rem; height: 20rem; overflow: auto; font-family: monospace; }
</style>
</head>
<body>
<h1>socketlens demo backend</h1>
<p id="status">served by <span>${escapeHtml(nodeId)}</span>,
  transport <span id="transport">none</span>, state <span id="state">idle</span></p>
<form id="form"><input id="text" size="40" placeholder="message" autocomplete="off"> <button>publish</button></form>
<div id="log"></div>
<script type="module">
import { RealtimeClient } from '/client/realtime-client.js';

const params = new URLSearchParams(location.search);
const room = params.get('room') || 'lobby';
const transports = params.get('transports') ? params.get('transports').split(',') : undefined;
const log = document.getElementById('log');
const line = (text) => {
  const div = document.createElement('div');
  div.textContent = text;
  log.prepend(div);
};

const client = new RealtimeClient({
  baseUrl: location.origin,
  room,
  transports,
  connectTimeoutMs: Number(params.get('timeout') || 3000),
  onTransport: (t) => { document.getElementById('transport').textContent = t; line('transport ' + t); },
  onState: (s) => { document.getElementById('state').textContent = s; },
  onMessage: (m) => line('#' + m.seq + ' via ' + m.node + ' from ' + m.origin + ': ' + JSON.stringify(m.data)),
  onClose: (code, reason) => line('closed ' + code + ' ' + reason),
});
window.socketlensClient = client;
client.connect().catch((err) => line('gave up: ' + err.message));

document.getElementById('form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = document.getElementById('text');
  client.send(input.value).catch((err) => line('publish failed: ' + err.message));
  input.value = '';
});
</script>
</body>
</html>
`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
