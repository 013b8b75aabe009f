/**
 * Cross-node broadcast: two backend nodes, a sidecar in front of each. With an in-process bus a
 * broadcast stays on the node that got it; through Redis pub/sub a client on either node gets a
 * message published on either node.
 */
import type { RawData } from 'ws';
import { METRICS } from '../../proxy/metrics/definitions.js';
import type { LabEnvironment } from '../env/types.js';
import { check, type Drill } from './types.js';
import { sleep, toWs, track } from './util.js';

async function pair(env: LabEnvironment, redis: boolean) {
  const n1 = await env.backend({ nodeId: 'node-1', redis });
  const n2 = await env.backend({ nodeId: 'node-2', redis });
  const s1 = await env.sidecar(n1.address);
  const s2 = await env.sidecar(n2.address);
  const c1 = track(toWs(s1.url, '/ws?room=news'));
  const c2 = track(toWs(s2.url, '/ws?room=news'));
  if (!(await c1.opened) || !(await c2.opened)) throw new Error('clients could not connect');
  const got: Record<'c1' | 'c2', string[]> = { c1: [], c2: [] };
  const collect = (key: 'c1' | 'c2') => (data: RawData) => {
    try {
      const m = JSON.parse(data.toString()) as { type?: string; data?: { tag?: string } };
      if (m.type === 'message' && m.data?.tag) got[key].push(m.data.tag);
    } catch {
      // not a broadcast
    }
  };
  c1.ws.on('message', collect('c1'));
  c2.ws.on('message', collect('c2'));
  await sleep(100);
  c1.ws.send(JSON.stringify({ type: 'publish', room: 'news', data: { tag: 'from-1' } }));
  await n2.publish('news', { tag: 'from-2' });
  const end = performance.now() + 2000;
  while (performance.now() < end && (got.c1.length < 2 || got.c2.length < 2)) await sleep(50);
  if (!redis) await sleep(300);
  const sent2 = await s2.metric(METRICS.messagesSent.name);
  c1.ws.close();
  c2.ws.close();
  return { got, sent2 };
}

export const drill: Drill = {
  name: 'cross-node-broadcast',
  title: 'Broadcast across backend nodes',
  // Under compose, two pairs of backends and sidecars, one after the other.
  timeoutMs: 120_000,
  async run(env, { log }) {
    const local = await pair(env, false);
    await env.releaseAll();
    const shared = await pair(env, true);
    log(`memory bus: ${JSON.stringify(local.got)}; redis: ${JSON.stringify(shared.got)}`);
    const both = (g: string[]) => g.includes('from-1') && g.includes('from-2');
    return {
      symptom: check(
        !local.got.c2.includes('from-1') && !local.got.c1.includes('from-2'),
        `per-node bus: client on node 2 got [${local.got.c2.join(', ')}], client on node 1 got [${local.got.c1.join(', ')}]`,
      ),
      detected: check(
        shared.sent2 >= 2 && local.sent2 < shared.sent2,
        `sidecar 2 ${METRICS.messagesSent.name}: ${local.sent2} without Redis, ${shared.sent2} with`,
      ),
      mitigated: check(
        both(shared.got.c1) && both(shared.got.c2),
        `Redis bus: node-1 client got [${shared.got.c1.join(', ')}], node-2 client got [${shared.got.c2.join(', ')}]`,
      ),
      figure: `${shared.got.c1.length + shared.got.c2.length}/4 delivered via Redis (${local.got.c1.length + local.got.c2.length}/4 without)`,
      series: [],
      data: { local, shared },
    };
  },
};
