/** Shared pieces of the fault tests: a sidecar with the fault API on, and the API calls. */
import type { FaultRecord } from '../../../proxy/faults/registry.js';
import { type RawBackend, startRawBackend } from '../../helpers/raw.js';
import { startTestSidecar, type TestSidecar } from '../../helpers/sidecar.js';

export interface FaultRig {
  backend: RawBackend;
  sidecar: TestSidecar;
  faultLog: FaultRecord[];
  close(): Promise<void>;
}

export async function startFaultRig(): Promise<FaultRig> {
  const backend = await startRawBackend();
  const faultLog: FaultRecord[] = [];
  const sidecar = await startTestSidecar(backend.port, { faults: true }, null, {
    faultLog: (r) => faultLog.push(r),
  });
  return {
    backend,
    sidecar,
    faultLog,
    close: async () => {
      await sidecar.close();
      await backend.close();
    },
  };
}

export async function api(
  adminUrl: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${adminUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text.startsWith('{') ? JSON.parse(text) : { text } };
}

/** Starts a fault and returns its id (throws unless the API answered 201). */
export async function startFault(adminUrl: string, spec: Record<string, unknown>): Promise<string> {
  const r = await api(adminUrl, 'POST', '/faults', spec);
  if (r.status !== 201) throw new Error(`POST /faults: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.id as string;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves with the error code once the socket errs or closes ('' for a clean close). */
export function ended(socket: import('node:net').Socket): Promise<string> {
  return new Promise((resolve) => {
    let code = '';
    socket.on('error', (e: NodeJS.ErrnoException) => {
      code = e.code ?? 'error';
    });
    socket.once('close', () => resolve(code));
  });
}
