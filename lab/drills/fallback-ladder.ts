/**
 * Fallback ladder: with WebSocket blocked (nginx /stripped/) the client settles on SSE; with
 * SSE held as well (nginx /buffered/ buffers the stream) it settles on long-poll. The sidecar's
 * per-transport gauge shows which transport each client really uses, and both still get messages.
 */
import type { RealtimeClient, RealtimeMessage, TransportName } from '../client/realtime-client.js';
import { METRICS } from '../../proxy/metrics/definitions.js';
import type { LabSidecar } from '../env/types.js';
import { check, type Drill } from './types.js';
import { ladderClient, poll, sleep } from './util.js';

async function peakActive(sidecar: LabSidecar, transport: string, ms: number): Promise<number> {
  let peak = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    peak = Math.max(peak, await sidecar.metric(METRICS.realtimeActive.name, { transport }));
    if (peak > 0) break;
    await sleep(25);
  }
  return peak;
}

export const drill: Drill = {
  name: 'fallback-ladder',
  title: 'Fallback ladder: WebSocket → SSE → long-poll',
  timeoutMs: 90_000,
  async run(env, { log }) {
    const backend = await env.backend({ nodeId: 'node-1' });
    const sidecar = await env.sidecar(backend.address);
    const edge = await env.edge(sidecar.address);
    const clients: RealtimeClient[] = [];
    const open = async (prefix: string) => {
      const got: RealtimeMessage[] = [];
      const c = ladderClient({
        baseUrl: `${edge.httpUrl}${prefix}/`,
        room: 'ladder',
        connectTimeoutMs: 1500,
        pollTimeoutMs: 500,
        maxRetries: 1,
        onMessage: (m) => got.push(m),
      });
      clients.push(c);
      const transport: TransportName | 'none' = await c.connect().catch(() => 'none' as const);
      return { c, got, transport };
    };
    try {
      const a = await open('/stripped');
      const sseActive = await peakActive(sidecar, 'sse', 1000);
      const b = await open('/buffered');
      const pollActive = await peakActive(sidecar, 'longpoll', 2000);
      const pollResponses = await sidecar.metric(METRICS.longpollResponses.name);
      await backend.publish('ladder', { n: 1 });
      await poll(
        'both clients to get the broadcast',
        () => (a.got.length && b.got.length ? true : undefined),
        4000,
      ).catch(() => false);
      log(
        `stripped → ${a.transport} (sse active ${sseActive}); buffered → ${b.transport} (longpoll active ${pollActive})`,
      );
      return {
        symptom: check(
          a.transport === 'sse' && b.transport === 'longpoll',
          `WebSocket blocked → ${a.transport}; WebSocket and SSE blocked → ${b.transport}`,
        ),
        detected: check(
          sseActive >= 1 && (pollActive >= 1 || pollResponses >= 1),
          `${METRICS.realtimeActive.name}{transport="sse"} = ${sseActive}, {transport="longpoll"} = ${pollActive}; ${METRICS.longpollResponses.name} = ${pollResponses}`,
        ),
        mitigated: check(
          a.got.length > 0 && b.got.length > 0,
          `broadcast received over sse: ${a.got.length}, over long-poll: ${b.got.length}`,
        ),
        figure: `ws → ${a.transport} → ${b.transport}`,
        series: [],
        data: { a: a.transport, b: b.transport, sseActive, pollActive, pollResponses },
      };
    } finally {
      for (const c of clients) c.close();
    }
  },
};
