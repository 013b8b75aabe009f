// Child-process entry of spawnFleet() (fleet.ts): N RealtimeClients with their default backoff,
// driven over the IPC channel. Exits when told to, or when the parent goes away.
import { WebSocket } from 'ws';
import type { FleetAnswer, FleetCounts, FleetOptions, FleetRequest } from './fleet.js';
import { RealtimeClient } from './realtime-client.js';
import type { WebSocketConstructor } from './transport.js';

if (!process.send) {
  process.stderr.write('fleet-worker: must be started with an IPC channel (child_process.fork)\n');
  process.exit(2);
}

let clients: RealtimeClient[] = [];
let gaveUp = 0;

const answer = (msg: FleetAnswer) => {
  if (process.connected) process.send?.(msg);
};

function counts(): FleetCounts {
  const byTransport = { websocket: 0, sse: 0, longpoll: 0 };
  let open = 0;
  for (const c of clients) {
    if (c.state !== 'open') continue;
    open++;
    if (c.transport) byTransport[c.transport]++;
  }
  return { open, gaveUp, byTransport };
}

async function start(o: FleetOptions): Promise<void> {
  clients = Array.from(
    { length: o.count },
    () =>
      new RealtimeClient({
        baseUrl: o.baseUrl,
        WebSocket: WebSocket as unknown as WebSocketConstructor,
        connectTimeoutMs: o.connectTimeoutMs ?? 5000,
        onError: (_err, transport) => {
          if (transport === undefined) gaveUp++;
        },
      }),
  );
  const batch = o.connectBatch ?? 50;
  for (let i = 0; i < clients.length; i += batch)
    await Promise.all(clients.slice(i, i + batch).map((c) => c.connect()));
}

async function whenAllOpen(timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (counts().open < clients.length) {
    if (Date.now() > end)
      throw new Error(`${counts().open}/${clients.length} clients open after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

process.on('message', (msg: FleetRequest) => {
  const reply = (p: Promise<unknown> | unknown) =>
    Promise.resolve(p).then(
      (value) => answer({ id: msg.id, ok: true, value: value ?? null }),
      (err: Error) => answer({ id: msg.id, ok: false, error: err.message }),
    );
  switch (msg.op) {
    case 'start':
      void reply(start(msg.options));
      return;
    case 'counts':
      void reply(counts());
      return;
    case 'whenAllOpen':
      void reply(whenAllOpen(msg.timeoutMs));
      return;
    case 'exit':
      for (const c of clients) c.close();
      answer({ id: msg.id, ok: true, value: null });
      setTimeout(() => process.exit(0), 50);
      return;
  }
});
process.on('disconnect', () => process.exit(0));
