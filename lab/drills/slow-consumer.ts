/**
 * Slow consumer: the backend floods one client whose downstream is throttled by Toxiproxy. The
 * sidecar's send buffer toward it grows; with --slow-consumer it cuts the client (1008,
 * slow_consumer) after the grace period, so its memory stays bounded.
 */
import { humanDuration } from '../../proxy/config/units.js';
import { METRICS } from '../../proxy/metrics/definitions.js';
import { check, type Drill } from './types.js';
import { poll, sleep, toWs, track } from './util.js';

const KiB = 1024;
const LIMIT = 256 * KiB;
const GRACE_MS = 1000;
const RATE_KBPS = 16;
const FLOOD_BPS = 2 * 1024 * KiB;
const MARGIN = 256 * KiB;

export const drill: Drill = {
  name: 'slow-consumer',
  title: 'Slow-consumer back-pressure',
  timeoutMs: 120_000,
  async run(env, { log }) {
    const backend = await env.backend({ nodeId: 'node-1' });
    const sidecar = await env.sidecar(backend.address, {
      slowConsumer: true,
      maxBufferBytes: LIMIT,
      slowConsumerGrace: GRACE_MS,
    });
    const link = await env.faultLink('slow', sidecar.address);
    await link.addToxic({ type: 'bandwidth', attributes: { rate: RATE_KBPS }, stream: 'downstream' });
    const rssBefore = await sidecar.rss();
    const client = track(toWs(link.url, `/ws?flood=${FLOOD_BPS}&size=${16 * KiB}`));
    if (!(await client.opened)) throw new Error('flood client could not connect');
    const t0 = performance.now();
    const points: Array<[number, number]> = [];
    let peak = 0;
    let rssPeak = rssBefore;
    let disconnectedAt: number | null = null;
    while (performance.now() - t0 < 8000) {
      const max = await sidecar.metric(METRICS.sendBuffer.name, { stat: 'max' });
      peak = Math.max(peak, max);
      rssPeak = Math.max(rssPeak, await sidecar.rss());
      points.push([Math.round(performance.now() - t0), Math.round(max / KiB)]);
      const cut = await sidecar.metric(METRICS.slowConsumerDisconnects.name);
      if (cut >= 1 && disconnectedAt === null) disconnectedAt = performance.now() - t0;
      if (disconnectedAt !== null && performance.now() - t0 > disconnectedAt + 500) break;
      await sleep(100);
    }
    await Promise.race([client.closed, sleep(3000)]);
    client.ws.terminate();
    const record = await poll(
      'the close record',
      async () => (await sidecar.closeLog()).find((r) => r.transport === 'websocket'),
      3000,
    ).catch(() => undefined);
    const disconnects = await sidecar.metric(METRICS.slowConsumerDisconnects.name);
    await link.clearToxics();
    log(
      `the send buffer peaked at ${Math.round(peak / KiB)} KiB; the sidecar disconnected ${disconnects} slow client(s) after ${disconnectedAt === null ? 'no cut' : humanDuration(disconnectedAt)}; the client saw close code ${client.closeCode}, the close log says ${record?.close_code} ${record?.reason}`,
    );
    // The 1008 close frame queues behind what the kernel and Toxiproxy already hold at 16 KB/s,
    // so the throttled client itself usually sees the TCP end (1006) first: the sidecar's close
    // record is the authoritative account.
    return {
      symptom: check(
        peak >= LIMIT,
        `${METRICS.sendBuffer.name}{stat="max"} grew to ${Math.round(peak / KiB)} KiB toward a ${RATE_KBPS} KB/s client (limit ${LIMIT / KiB} KiB)`,
      ),
      detected: check(
        disconnects === 1 && record?.close_code === 1008 && /slow_consumer/.test(record.reason),
        `${METRICS.slowConsumerDisconnects.name} = ${disconnects}; close log: ${record?.close_code} ${record?.reason ?? ''}; client saw ${client.closeCode} "${client.closeReason}"`,
      ),
      mitigated: check(
        disconnectedAt !== null && disconnectedAt <= 6000 && peak <= LIMIT + MARGIN,
        `cut after ${disconnectedAt === null ? 'never' : `${Math.round(disconnectedAt)} ms`} (grace ${GRACE_MS} ms); peak ${Math.round(peak / KiB)} KiB ≤ ${(LIMIT + MARGIN) / KiB} KiB; client close ${client.closeCode} ${client.closeReason}; RSS +${Math.round((rssPeak - rssBefore) / KiB / KiB)} MiB`,
      ),
      figure: `peak ${Math.round(peak / KiB)} KiB, cut at ${disconnectedAt === null ? '-' : `${(disconnectedAt / 1000).toFixed(1)} s`}`,
      series: [
        {
          id: 'send-buffer',
          title: 'Send-buffer bytes toward the slow client (ws_send_buffer_bytes{stat="max"})',
          xLabel: 'ms',
          yLabel: 'KiB',
          kind: 'line',
          lines: [{ name: 'max send buffer', points }],
          marks: [{ name: 'max-buffer-bytes', y: LIMIT / KiB }],
        },
      ],
      data: { peak, disconnects, disconnectedAt, rssBefore, rssPeak, clientClose: client.closeCode },
    };
  },
};
