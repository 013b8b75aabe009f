/**
 * Upgrade stripped at a proxy: nginx's /stripped/ location forwards the handshake without the
 * Upgrade/Connection pair, so the backend answers 426 instead of 101. The sidecar behind nginx
 * counts it as reason="upgrade_stripped"; the fallback client drops to SSE and still gets
 * broadcasts; the correctly configured location `/` upgrades.
 */
import type { RealtimeMessage } from '../client/realtime-client.js';
import { METRICS } from '../../proxy/metrics/definitions.js';
import { check, type Drill } from './types.js';
import { ladderClient, poll, toWs, track } from './util.js';

export const drill: Drill = {
  name: 'upgrade-stripped',
  title: 'Upgrade header stripped at a proxy',
  timeoutMs: 90_000,
  async run(env, { log }) {
    const backend = await env.backend({ nodeId: 'node-1' });
    const sidecar = await env.sidecar(backend.address);
    const edge = await env.edge(sidecar.address);

    const stripped = track(toWs(edge.httpUrl, '/stripped/ws'));
    const strippedOpened = await stripped.opened;
    log(
      `through the stripping location: ${strippedOpened ? 'the WebSocket opened' : 'the WebSocket did not open'} (the client got HTTP ${stripped.status ?? 'nothing'})`,
    );
    const failures = await sidecar.metric(METRICS.handshakeFailures.name, { reason: 'upgrade_stripped' });

    const received: RealtimeMessage[] = [];
    const client = ladderClient({
      baseUrl: `${edge.httpUrl}/stripped/`,
      room: 'drill',
      connectTimeoutMs: 3000,
      pollTimeoutMs: 1000,
      maxRetries: 2,
      onMessage: (m) => received.push(m),
    });
    let transport = 'none';
    try {
      transport = await client.connect();
      await backend.publish('drill', { hello: 'stripped' });
      await poll('broadcast over the fallback', () => (received.length > 0 ? true : undefined), 3000).catch(
        () => false,
      );
    } finally {
      client.close();
    }

    const good = track(toWs(edge.httpUrl, '/ws'));
    const goodOpened = await good.opened;
    good.ws.close();
    await good.closed;

    return {
      symptom: check(
        !strippedOpened && stripped.status === 426,
        `via /stripped/: no 101, status ${stripped.status ?? 'none'}`,
      ),
      detected: check(
        failures >= 1,
        `${METRICS.handshakeFailures.name}{reason="upgrade_stripped"} = ${failures}`,
      ),
      mitigated: check(
        transport === 'sse' && received.length > 0 && goodOpened,
        `fallback client on ${transport}, ${received.length} broadcast(s); via / : ${goodOpened ? '101' : 'no 101'}`,
      ),
      figure: `status ${stripped.status ?? '-'} → ${transport}`,
      series: [],
      data: { strippedStatus: stripped.status, failures, transport, received: received.length },
    };
  },
};
