// Serves the compiled browser-safe client modules (dist/lab/client/*.js) at /client/*.js, so a
// page can `import { RealtimeClient } from '/client/realtime-client.js'` with no bundler.
// Only an explicit list is served: swarm.js is Node-only and nothing else should leak out.

import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { sendText } from './http-util.js';

/** The client modules that are safe to load in a browser (they import only each other). */
export const BROWSER_MODULES: ReadonlySet<string> = new Set([
  'backoff.js',
  'sse-parser.js',
  'errors.js',
  'message.js',
  'transport.js',
  'ws-transport.js',
  'sse-transport.js',
  'longpoll-transport.js',
  'realtime-client.js',
  'browser.js',
  'swarm-timeline.js',
]);

// server.js lives in dist/lab/backend/, the client modules in dist/lab/client/.
const CLIENT_DIR = new URL('../client/', import.meta.url);

export async function serveClientModule(res: ServerResponse, name: string): Promise<void> {
  if (!BROWSER_MODULES.has(name)) {
    sendText(res, 404, `no browser module named ${name}\n`);
    return;
  }
  let body: Buffer;
  try {
    body = await readFile(new URL(name, CLIENT_DIR));
  } catch {
    sendText(res, 404, `${name} is not built; run tsc first\n`);
    return;
  }
  res.writeHead(200, {
    'content-type': 'text/javascript; charset=utf-8',
    'content-length': body.length,
    'cache-control': 'no-cache',
  });
  res.end(body);
}
