// Child-process entry of spawnSwarm() (swarm.ts): runs one runSwarm() in its own Node process, so
// the clients' CPU (500 handshakes at once) does not compete with the sidecar's event loop.
// Driven over the IPC channel by small request/answer messages; the timeline stays here until
// asked for, so nothing crosses the channel per event while a storm is in progress.
// Exits when the parent says "exit" or the channel goes away (parent gone).

import { runSwarm, type Swarm, type SwarmAnswer, type SwarmRequest } from './swarm.js';

if (!process.send) {
  process.stderr.write('swarm-worker: must be started with an IPC channel (child_process.fork)\n');
  process.exit(2);
}

let swarm: Swarm | null = null;
let epochMs = 0;
let count = 0;
// Checked after every event: waiters for "every client closed since T and is open again".
const reconnectWaiters = new Set<() => void>();

const answer = (msg: SwarmAnswer) => {
  if (process.connected) process.send?.(msg);
};

/** Swarm time (ms since its start) right now. */
const nowT = () => performance.timeOrigin + performance.now() - epochMs;

function allReconnected(sinceT: number): boolean {
  if (!swarm || swarm.openCount() < count) return false;
  const closed = new Set<number>();
  for (const e of swarm.timeline) if (e.kind === 'close' && e.t >= sinceT) closed.add(e.client);
  return closed.size === count;
}

function waitFor(cond: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  if (cond()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!cond()) return;
      clearTimeout(timer);
      reconnectWaiters.delete(check);
      resolve();
    };
    const timer = setTimeout(() => {
      reconnectWaiters.delete(check);
      reject(new Error(what()));
    }, timeoutMs);
    reconnectWaiters.add(check);
  });
}

async function handle(req: SwarmRequest): Promise<unknown> {
  if (req.op === 'start') {
    if (swarm) throw new Error('swarm already started');
    count = req.options.count;
    swarm = runSwarm({
      ...req.options,
      onEvent: () => {
        for (const w of [...reconnectWaiters]) w();
      },
    });
    epochMs = swarm.epochMs;
    return { epochMs, pid: process.pid };
  }
  if (req.op === 'exit') {
    if (swarm) await swarm.stop();
    setImmediate(() => process.exit(0));
    return null;
  }
  if (!swarm) throw new Error(`"${req.op}" before "start"`);
  const s = swarm;
  switch (req.op) {
    case 'now':
      return nowT();
    case 'openCount':
      return s.openCount();
    case 'whenAllOpen':
      await s.whenAllOpen(req.timeoutMs);
      return null;
    case 'whenAllReconnected':
      await waitFor(
        () => allReconnected(req.sinceT),
        req.timeoutMs,
        () => `only ${s.openCount()}/${count} clients open ${req.timeoutMs} ms after the drop`,
      );
      return null;
    case 'timeline':
      return s.timeline;
    case 'stop':
      await s.stop();
      return s.timeline;
  }
}

process.on('message', (req: SwarmRequest) => {
  handle(req).then(
    (value) => answer({ id: req.id, ok: true, value }),
    (err: unknown) =>
      answer({ id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
// The parent went away: nobody will ever stop us, so stop now.
process.on('disconnect', () => {
  const done = swarm ? swarm.stop() : Promise.resolve();
  void done.finally(() => process.exit(0));
});
