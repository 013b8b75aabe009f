// End to end in a real Chromium: browser ──wss──► nginx (TLS edge) ──► sidecar ──► demo backend.
// One page holds a WebSocket opened by the browser; a second page watches the sidecar's admin
// live page, sees the connection, then sees its close code after the browser closes it.
// Saves a screenshot to test-output/live-page.png.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { WebSocket as NodeWebSocket } from 'ws';
import { type Backend, startBackend } from '../../lab/backend/server.js';
import { findBinary } from '../../lab/runner/binaries.js';
import { type NginxEdge, startNginx } from '../../lab/runner/components/nginx.js';
import { sidecarConfig } from '../../proxy/config/sidecar-options.js';
import { METRICS } from '../../proxy/metrics/definitions.js';
import { type Sidecar, startSidecar } from '../../proxy/sidecar.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const HAVE_NGINX = (() => {
  try {
    findBinary('nginx');
    return true;
  } catch {
    return false;
  }
})();
const skip = !CHROMIUM ? 'no chromium binary installed' : !HAVE_NGINX ? 'no nginx installed' : false;
const OUTPUT_DIR = fileURLToPath(new URL('../../../test-output/', import.meta.url));
const CLIENT_PATH = '/ws?room=e2e&client_id=e2e-browser';

describe('live page in Chromium, through the TLS edge', { skip, timeout: 30_000 }, () => {
  let backend: Backend;
  let sidecar: Sidecar;
  let edge: NginxEdge;
  let context: BrowserContext;
  let profileDir: string;

  before(async () => {
    backend = await startBackend({ nodeId: 'web1', heartbeatIntervalMs: 0, closeGraceMs: 200 });
    sidecar = await startSidecar(
      sidecarConfig({
        target: backend.url,
        listen: { host: '127.0.0.1', port: 0 },
        admin: { host: '127.0.0.1', port: 0 },
        log: 'off',
      }),
    );
    edge = await startNginx({ upstream: `127.0.0.1:${sidecar.port}` });
    profileDir = mkdtempSync(join(tmpdir(), 'socketlens-live-page-'));
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      ignoreHTTPSErrors: true,
      viewport: { width: 1280, height: 900 },
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--ignore-certificate-errors',
      ],
    });
  });

  after(async () => {
    await context?.close();
    await edge?.stop();
    await sidecar?.close();
    await backend?.close();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  });

  /** Text of one cell of the live connections table, in the row whose client id is `clientId`. */
  const connectionCell = (page: Page, clientId: string, col: string) =>
    page.evaluate(
      ([id, c]) => {
        for (const tr of Array.from(document.querySelectorAll('#connections-body tr[data-id]'))) {
          if (tr.querySelector('[data-col="client"]')?.textContent === id)
            return tr.querySelector(`[data-col="${c}"]`)?.textContent ?? null;
        }
        return null;
      },
      [clientId, col] as const,
    );

  /** The close-code table: class of the row (without the flash), then its cells. */
  const closeRows = (page: Page) =>
    page.$$eval('#closes-body tr[data-code]', (trs) =>
      trs.map((tr) => [
        tr.className.replace('changed', '').trim(),
        ...Array.from(tr.querySelectorAll('td')).map((td) => td.textContent),
      ]),
    );

  it('shows the browser WebSocket, then its close code', async () => {
    const errors: string[] = [];
    // The demo page, served by the backend through nginx and the sidecar; its own client
    // connects over WebSocket too.
    const app = await context.newPage();
    app.on('pageerror', (err) => errors.push(`app: ${err.message}`));
    await app.goto(`${edge.httpsUrl}/?room=e2e`);
    await app.waitForFunction(() => document.getElementById('transport')?.textContent === 'websocket', null, {
      timeout: 10_000,
    });

    const admin = await context.newPage();
    admin.on('pageerror', (err) => errors.push(`admin: ${err.message}`));
    const offsite: string[] = [];
    admin.on('request', (req) => {
      if (!req.url().startsWith(`${sidecar.adminUrl}/`) && !req.url().startsWith('data:'))
        offsite.push(req.url());
    });
    await admin.goto(`${sidecar.adminUrl}/`);
    await admin.waitForFunction(
      () => document.body.dataset.state === 'live' && document.getElementById('ws')?.textContent === '1',
      null,
      { timeout: 5000 },
    );

    // A second WebSocket, opened by the browser itself, with a client id in its query.
    const url = `${edge.httpsUrl.replace('https:', 'wss:')}${CLIENT_PATH}`;
    await app.evaluate(
      (u) =>
        new Promise<void>((resolve, reject) => {
          const ws = new WebSocket(u);
          (window as unknown as { e2eSocket: WebSocket }).e2eSocket = ws;
          ws.onopen = () => resolve();
          ws.onerror = () => reject(new Error('websocket error'));
        }),
      url,
    );

    await admin.waitForFunction(
      () =>
        document.getElementById('ws')?.textContent === '2' &&
        Array.from(document.querySelectorAll('#connections-body [data-col="client"]')).some(
          (td) => td.textContent === 'e2e-browser',
        ),
      null,
      { timeout: 5000 },
    );
    assert.equal(await connectionCell(admin, 'e2e-browser', 'transport'), 'websocket');
    assert.equal(await connectionCell(admin, 'e2e-browser', 'path'), CLIENT_PATH);
    assert.equal(await connectionCell(admin, 'e2e-browser', 'peer'), '127.0.0.1');
    assert.equal(await admin.textContent('#connections-count'), '2 live');
    assert.equal(await admin.locator('#slowest-body tr[data-id]').count(), 2);
    // Before any close, only the 1006 row stands watch, not highlighted.
    assert.deepEqual(await closeRows(admin), [
      ['watch', '1006', 'abnormal (no close frame)', '0', '0', '0', '0'],
    ]);

    // The browser closes its socket with 1000.
    const closed = await app.evaluate(
      () =>
        new Promise<{ code: number; wasClean: boolean }>((resolve) => {
          const ws = (window as unknown as { e2eSocket: WebSocket }).e2eSocket;
          ws.onclose = (ev) => resolve({ code: ev.code, wasClean: ev.wasClean });
          ws.close(1000, 'bye');
        }),
    );
    assert.deepEqual(closed, { code: 1000, wasClean: true });

    await admin.waitForFunction(
      () =>
        document.querySelector('#closes-body tr[data-code="1000"] [data-col="client"]')?.textContent ===
          '1' && document.getElementById('ws')?.textContent === '1',
      null,
      { timeout: 5000 },
    );
    assert.deepEqual((await closeRows(admin))[1], ['', '1000', 'normal', '1', '0', '0', '1']);
    assert.equal(await connectionCell(admin, 'e2e-browser', 'transport'), null);
    assert.equal(await admin.textContent('#connections-count'), '1 live');
    assert.equal(
      await sidecar.ctx.metrics.value(METRICS.closes.name, { code: '1000', initiator: 'client' }),
      1,
    );

    // A client that drops TCP without a close frame (from Node, straight to the sidecar): 1006,
    // highlighted.
    const abrupt = new NodeWebSocket(`${sidecar.url.replace('http:', 'ws:')}/ws?room=e2e&client_id=abrupt`);
    await once(abrupt, 'open');
    abrupt.terminate();
    await admin.waitForFunction(
      () => document.querySelector('#closes-body tr[data-code="1006"]')?.classList.contains('abnormal'),
      null,
      { timeout: 5000 },
    );
    assert.deepEqual(await closeRows(admin), [
      ['abnormal', '1006', 'abnormal (no close frame)', '1', '0', '0', '1'],
      ['', '1000', 'normal', '1', '0', '0', '1'],
    ]);

    mkdirSync(OUTPUT_DIR, { recursive: true });
    await admin.screenshot({
      path: join(OUTPUT_DIR, 'live-page.png'),
      fullPage: true,
      animations: 'disabled',
    });
    assert.deepEqual(errors, []);
    assert.deepEqual(offsite, []);
    await app.close();
    await admin.close();
  });
});
