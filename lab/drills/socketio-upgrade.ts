/**
 * A real Socket.IO 4 app behind the nginx edge, reached two ways by real `socket.io-client`
 * clients: through /stripped/ (the Upgrade/Connection pair dropped) and through / (correct).
 * Socket.IO hides the failure from users: clients connect over HTTP long-polling, their upgrade
 * to WebSocket fails (the app answers the stripped upgrade with 400), and they stay on polling,
 * working but slower and heavier. The sidecar, between the edge and the app, logs one line per
 * engine.io session with the transports it used: ["polling"] on the stripped path,
 * ["polling", "websocket"] on the healthy one, and engineio_sessions_total{transports} counts
 * them (the Protocols board and SocketlensEngineioNotUpgrading read it).
 */
import { METRICS } from '../../proxy/metrics/definitions.js';
import type { CloseRecord } from '../../proxy/telemetry/close-log.js';
import { check, type Drill } from './types.js';
import { poll, sleep } from './util.js';

/** Clients per path. */
export const SOCKETIO_CLIENTS = 3;
/** "chat" events each client sends (each acknowledged by the app). */
export const SOCKETIO_CHATS = 2;

interface ClientOutcome {
  /** The transport the client was on when it left. */
  transport: string;
  /** The client tried the upgrade and it failed. */
  upgradeError: boolean;
  acks: number;
}

/** One client: connect (polling first, as Socket.IO does), wait for the upgrade or its failure, chat, leave. */
async function runClient(origin: string, path: string): Promise<ClientOutcome> {
  const { io } = await import('socket.io-client');
  const socket = io(origin, { path, reconnection: false, timeout: 5000, forceNew: true });
  const engine = socket.io.engine;
  let upgradeError = false;
  const settled = new Promise<void>((resolve) => {
    engine.once('upgrade', () => resolve());
    engine.once('upgradeError', () => {
      upgradeError = true;
      resolve();
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    // The upgrade is tried right after the open packet; it either succeeds or fails within a second.
    await Promise.race([settled, sleep(3000)]);
    let acks = 0;
    for (let i = 0; i < SOCKETIO_CHATS; i++) {
      const reply = (await socket.timeout(3000).emitWithAck('chat', `hello ${i}`)) as { echo?: string };
      if (reply?.echo === `hello ${i}`) acks++;
    }
    return { transport: engine.transport.name, upgradeError, acks };
  } finally {
    socket.disconnect();
  }
}

const isEngineio = (r: CloseRecord) => r.protocol === 'engineio';
const sameTransports = (r: CloseRecord, want: string[]) =>
  JSON.stringify(r.transports ?? []) === JSON.stringify(want);

export const drill: Drill = {
  name: 'socketio-upgrade',
  title: 'Socket.IO stuck on polling behind an edge that strips the upgrade',
  timeoutMs: 60_000,
  async run(env, { log }) {
    const app = await env.socketioApp();
    const sidecar = await env.sidecar(app.address);
    const edge = await env.edge(sidecar.address);

    const stripped = await Promise.all(
      Array.from({ length: SOCKETIO_CLIENTS }, () => runClient(edge.httpUrl, '/stripped/socket.io/')),
    );
    const strippedOnPolling = stripped.filter((c) => c.transport === 'polling' && c.upgradeError).length;
    log(
      `through /stripped/: ${strippedOnPolling}/${SOCKETIO_CLIENTS} clients stayed on polling after a failed upgrade, ${stripped.reduce((a, c) => a + c.acks, 0)} chats acknowledged`,
    );
    const logs = () => sidecar.closeLog().then((l) => l.filter(isEngineio));
    await poll(
      'the stripped sessions in the close log',
      async () => ((await logs()).length >= SOCKETIO_CLIENTS ? true : undefined),
      5000,
    ).catch(() => false);
    // Let the scrapes and rules see the stripped sessions alone before the healthy ones end.
    await sleep(3000);

    const healthy = await Promise.all(
      Array.from({ length: SOCKETIO_CLIENTS }, () => runClient(edge.httpUrl, '/socket.io/')),
    );
    const healthyUpgraded = healthy.filter((c) => c.transport === 'websocket' && !c.upgradeError).length;
    log(`through / : ${healthyUpgraded}/${SOCKETIO_CLIENTS} clients upgraded to WebSocket`);
    await poll(
      'every session in the close log',
      async () => ((await logs()).length >= 2 * SOCKETIO_CLIENTS ? true : undefined),
      5000,
    ).catch(() => false);

    const lines = await logs();
    const pollingOnly = lines.filter((r) => sameTransports(r, ['polling'])).length;
    const upgraded = lines.filter((r) => sameTransports(r, ['polling', 'websocket'])).length;
    const metric = (transports: string) => sidecar.metric(METRICS.engineioSessions.name, { transports });
    const pollingMetric = await metric('polling');
    const upgradedMetric = await metric('polling,websocket');
    const stripFailures = await sidecar.metric(METRICS.handshakeFailures.name, {
      reason: 'upgrade_stripped',
    });
    const appSaw = await app.closedOn();
    const acks = [...stripped, ...healthy].reduce((a, c) => a + c.acks, 0);
    log(
      `sidecar close log: ${pollingOnly} session(s) ["polling"], ${upgraded} ["polling","websocket"], of ${lines.length} engine.io line(s); the app saw sessions close on ${appSaw.join(', ')}`,
    );

    return {
      symptom: check(
        strippedOnPolling === SOCKETIO_CLIENTS,
        `via /stripped/: ${strippedOnPolling}/${SOCKETIO_CLIENTS} clients stuck on polling (upgrade failed)`,
      ),
      detected: check(
        pollingOnly === SOCKETIO_CLIENTS && pollingMetric === SOCKETIO_CLIENTS,
        `close log: ${pollingOnly} session(s) transports ["polling"]; ${METRICS.engineioSessions.name}{transports="polling"} = ${pollingMetric}`,
      ),
      mitigated: check(
        healthyUpgraded === SOCKETIO_CLIENTS &&
          upgraded === SOCKETIO_CLIENTS &&
          upgradedMetric === SOCKETIO_CLIENTS &&
          acks === 2 * SOCKETIO_CLIENTS * SOCKETIO_CHATS,
        `via / : ${upgraded} session(s) ["polling","websocket"], {transports="polling,websocket"} = ${upgradedMetric}; ${acks} chats acknowledged`,
      ),
      figure: `stripped: ${pollingOnly}/${SOCKETIO_CLIENTS} on polling; healthy: ${upgraded}/${SOCKETIO_CLIENTS} upgraded`,
      series: [],
      data: {
        pollingOnly,
        upgraded,
        engineLines: lines.length,
        pollingMetric,
        upgradedMetric,
        stripFailures,
        acks,
        appClosedOn: appSaw,
      },
    };
  },
};
