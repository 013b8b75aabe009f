/**
 * The fault API on the admin server (only with --faults):
 *   POST   /faults       JSON spec → 201 with the fault (its id in `id`); 400 with a coded error
 *   GET    /faults       the active faults, each with the connections it hit
 *   GET    /faults/{id}  one fault
 *   DELETE /faults/{id}  ends one fault (404 if unknown)
 *   DELETE /faults       ends every fault
 * The proxy listener never serves it: there every path goes to the backend.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultRegistry } from './registry.js';
import { FaultSpecError, parseFaultSpec } from './spec.js';

const BODY_MAX = 64 * 1024;

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body, null, 1)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function error(res: ServerResponse, status: number, code: string, message: string): void {
  json(res, status, { error: { code, message } });
}

function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > BODY_MAX) {
        resolve(null);
        req.destroy();
        return;
      }
      parts.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

/** Serves one request under /faults. */
export async function handleFaultRequest(
  faults: FaultRegistry,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const id = path === '/faults' ? null : decodeURIComponent(path.slice('/faults/'.length));
  const method = req.method ?? 'GET';
  if (id === null) {
    if (method === 'GET') return json(res, 200, { faults: faults.list() });
    if (method === 'DELETE') return json(res, 200, { ended: faults.clear() });
    if (method !== 'POST')
      return error(res, 405, 'SL_FAULT_METHOD', `${method} /faults: use GET, POST or DELETE`);
    const text = await readBody(req);
    if (text === null) return error(res, 413, 'SL_FAULT_SPEC', `body: larger than ${BODY_MAX} bytes`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      return error(res, 400, 'SL_FAULT_SPEC', `body: not JSON (${(err as Error).message})`);
    }
    try {
      return json(res, 201, faults.add(parseFaultSpec(body)));
    } catch (err) {
      if (err instanceof FaultSpecError) return error(res, 400, err.code, err.message);
      throw err;
    }
  }
  if (method === 'GET') {
    const view = faults.get(id);
    return view ? json(res, 200, view) : error(res, 404, 'SL_FAULT_UNKNOWN', `no active fault "${id}"`);
  }
  if (method === 'DELETE') {
    return faults.remove(id, 'deleted')
      ? json(res, 200, { ended: 1 })
      : error(res, 404, 'SL_FAULT_UNKNOWN', `no active fault "${id}"`);
  }
  return error(res, 405, 'SL_FAULT_METHOD', `${method} /faults/${id}: use GET or DELETE`);
}
