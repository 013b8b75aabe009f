/**
 * A slow consumer of a service that pushes: the client reads 16 KB/s (Toxiproxy bandwidth toxic)
 * while it keeps asking the service for data. Does the service bound what it queues for that
 * client, and shed it? The sidecar in front of the service shows how much the service sent that
 * the client has not read.
 */
import { METRICS } from '../../proxy/metrics/definitions.js';
import { check } from '../drills/types.js';
import { sleep } from '../drills/util.js';
import { skipped, type TargetDrill } from './types.js';
import { isEngineIo, openClient } from './util.js';

const WATCH_MS = 6000;
const RATE_KB = 16;

export const drill: TargetDrill = {
  name: 'slow-consumer',
  title: 'Slow consumer of a pushing service',
  async run(env, target, { log }) {
    const sidecar = await env.sidecar(target.address);
    const link = await env.faultLink('target_slow', sidecar.address);
    if (target.message === null && isEngineIo(target))
      return skipped(
        'an engine.io service only answers its own packets; give --message-file with a Socket.IO event that makes it push, e.g. 42["subscribe","news"]',
      );
    const message = target.message ?? Buffer.alloc(16 * 1024, 120);
    // Does the service send anything back for the message?
    const probe = openClient(link.url, target);
    if (!(await probe.opened)) throw new Error(`no 101 (status ${probe.status})`);
    await sleep(300);
    const before = probe.received;
    probe.ws.send(message);
    await sleep(1500);
    const answered = probe.closedAt === null && probe.received > before;
    probe.ws.terminate();
    if (!answered)
      return skipped(
        target.message
          ? `the service ${probe.closedAt === null ? 'sent nothing back' : `closed the connection (${probe.closeCode})`} for --message-file within 1.5 s`
          : `the service ${probe.closedAt === null ? 'sent nothing back' : `closed the connection (${probe.closeCode})`} for a 16 KiB message within 1.5 s; give --message-file with a message that makes it push (e.g. a subscribe)`,
      );
    await link.addToxic({ type: 'bandwidth', attributes: { rate: RATE_KB }, stream: 'downstream' });
    const client = openClient(link.url, target);
    if (!(await client.opened)) throw new Error(`no 101 (status ${client.status})`);
    // Let a protocol handshake on top of the WebSocket (engine.io's open and CONNECT) finish first.
    await sleep(500);
    const bytesOut0 = await sidecar.metric(METRICS.bytesSent.name);
    const t0 = performance.now();
    let sent = 0;
    let maxQueued = 0;
    while (performance.now() - t0 < WATCH_MS && client.closedAt === null) {
      if (client.ws.bufferedAmount < 1024 * 1024) {
        client.ws.send(message);
        sent++;
      }
      const q = await sidecar.metric(METRICS.sendBuffer.name, { stat: 'max' });
      maxQueued = Math.max(maxQueued, q);
      await sleep(20);
    }
    const fromService = (await sidecar.metric(METRICS.bytesSent.name)) - bytesOut0;
    const inFlight = Math.max(0, fromService - client.received);
    // Shedding: the service itself closes the slow client after it pushed to it.
    const shed = client.closedAt !== null && fromService > 0;
    const log0 = (await sidecar.closeLog()).find(
      (r) => r.transport === 'websocket' && r.initiator === 'server',
    );
    client.ws.terminate();
    await link.clearToxics();
    log(`sent=${sent} fromService=${fromService} received=${client.received} shed=${shed}`);
    const kib = (n: number) => `${Math.round(n / 1024)} KiB`;
    const did = shed
      ? `it shed the slow consumer after ${((client.closedAt! - t0) / 1000).toFixed(1)} s (close ${client.closeCode}${log0 ? `, ${log0.reason}` : ''}), having sent ${kib(fromService)}`
      : `it did not shed a client reading ${RATE_KB} KB/s for ${WATCH_MS / 1000} s: it sent ${kib(fromService)}, the client read ${kib(client.received)}, ${kib(inFlight)} it had sent waited on the way (Toxiproxy, socket buffers${maxQueued > 0 ? `, the sidecar's queue up to ${kib(maxQueued)}` : ''})`;
    return {
      symptom: check(true, `client reads ${RATE_KB} KB/s; ${sent} messages asked for data`),
      detected: check(
        true,
        `${METRICS.sendBuffer.name}{stat="max"} up to ${maxQueued}; ${kib(inFlight)} sent but unread`,
      ),
      mitigated: check(shed, did),
      figure: shed ? 'shed' : `${kib(inFlight)} unread, not shed`,
      series: [],
      data: { sent, fromService, received: client.received, inFlight, maxQueued, shed },
      service: {
        did,
        change: shed
          ? null
          : 'bound what you queue per client and close a client that stays over it with 1008 (or 1013): Node ws: check ws.bufferedAmount before send; Python websockets: a timeout around send() (asyncio.wait_for) and a small write_limit; or put socketlens --slow-consumer --max-buffer-bytes in front',
      },
    };
  },
};
