// The demo page in a real Chromium: the compiled client modules load as plain ES modules from
// /client/*.js and the ladder works in a browser (native WebSocket, fetch-streamed SSE).

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { type Backend, startBackend } from '../../lab/backend/server.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

describe('demo page in Chromium', { skip: CHROMIUM ? false : 'no chromium binary installed' }, () => {
  let backend: Backend;
  let browser: Browser;

  before(async () => {
    backend = await startBackend({ nodeId: 'web1', heartbeatIntervalMs: 0, closeGraceMs: 200 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });
  after(async () => {
    await browser?.close();
    await backend?.close();
  });

  for (const [query, transport] of [
    ['room=b1', 'websocket'],
    ['room=b2&transports=sse,longpoll', 'sse'],
    ['room=b3&transports=longpoll', 'longpoll'],
  ] as const) {
    test(`?${query} connects with ${transport} and shows a broadcast`, async () => {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      const published = () => backend.stats().ws.published * 1000 + backend.stats().http.published;
      const before = published();
      try {
        await page.goto(`${backend.url}/?${query}`);
        await page.waitForFunction(
          (t) => document.getElementById('transport')?.textContent === t,
          transport,
          {
            timeout: 10_000,
          },
        );
        assert.equal(await page.textContent('#state'), 'open');
        // Publish from the page itself (WebSocket frame or POST /publish, depending on the rung).
        await page.fill('#text', `hello ${transport}`);
        await page.click('button');
        await page.waitForFunction(
          () => document.getElementById('log')!.textContent!.includes('#1 via'),
          null,
          {
            timeout: 10_000,
          },
        );
        const log = await page.textContent('#log');
        assert.match(log!, new RegExp(`#1 via web1 from web1: "hello ${transport}"`));
        assert.deepEqual(errors, []);
        // Over the socket when it is a WebSocket, else POST /publish.
        assert.equal(published() - before, transport === 'websocket' ? 1000 : 1);
      } finally {
        await page.close();
      }
    });
  }
});
