/**
 * Upgrade stripped at the edge: nginx's /stripped/ location forwards the handshake without the
 * Upgrade/Connection pair. What does the service answer to a WebSocket request that lost its
 * Upgrade header? A 426 or 400 lets a client tell the failure and fall back; a 200 or a page
 * leaves it guessing.
 */
import { METRICS } from '../../proxy/metrics/definitions.js';
import { check } from '../drills/types.js';
import type { TargetDrill } from './types.js';
import { openClient } from './util.js';

const NGINX_FIX =
  'at the edge, pass the Upgrade pair: nginx `map $http_upgrade $connection_upgrade { default upgrade; "" close; }` with `proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade;`';

export const drill: TargetDrill = {
  name: 'upgrade-stripped',
  title: 'Upgrade header stripped at the edge',
  async run(env, target, { log }) {
    const sidecar = await env.sidecar(target.address);
    const edge = await env.edge(sidecar.address);
    const good = openClient(edge.httpUrl, target);
    const goodOk = await good.opened;
    good.ws.terminate();
    if (!goodOk) throw new Error(`no 101 through the correct nginx location (status ${good.status})`);
    const bad = openClient(edge.httpUrl, target, '/stripped');
    const badOk = await bad.opened;
    bad.ws.terminate();
    const status = bad.status;
    const counted = await sidecar.metric(METRICS.handshakeFailures.name, { reason: 'upgrade_stripped' });
    let fallback = '';
    if (target.ssePath) {
      const ctrl = new AbortController();
      const res = await fetch(`${edge.httpUrl}/stripped${target.ssePath}`, { signal: ctrl.signal }).catch(
        () => null,
      );
      fallback =
        res?.status === 200 && /text\/event-stream/.test(res.headers.get('content-type') ?? '')
          ? `; SSE at ${target.ssePath} still works through the same location, so clients can fall back`
          : `; SSE at ${target.ssePath} did not answer 200 text/event-stream (${res?.status ?? 'no answer'})`;
      ctrl.abort();
    }
    log(`stripped: opened=${badOk} status=${status} counted=${counted}`);
    const clear = !badOk && (status === 426 || status === 400);
    const did = badOk
      ? 'it upgraded even without the Upgrade header'
      : `it answered ${status ?? 'nothing'} to a WebSocket request without Upgrade${clear ? ', which a client can tell apart' : ', which a client cannot tell from a normal answer'}${fallback}`;
    return {
      symptom: check(!badOk, `through /stripped/: ${badOk ? '101' : `status ${status}`}`),
      detected: check(
        counted >= 1,
        `${METRICS.handshakeFailures.name}{reason="upgrade_stripped"} = ${counted}`,
      ),
      mitigated: check(clear, did),
      figure: `stripped → ${status ?? 'no answer'}`,
      series: [],
      data: { status, counted },
      service: {
        did,
        change: clear
          ? null
          : `answer 426 Upgrade Required to a request with Sec-WebSocket-Key but no Upgrade header, so clients fall back; and ${NGINX_FIX}`,
      },
    };
  },
};
