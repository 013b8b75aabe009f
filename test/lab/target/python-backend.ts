/** Starts the Python `websockets` echo service (test/lab/target/ws_server.py) as a child process. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../../../test/lab/target/ws_server.py', import.meta.url));

export interface PythonBackend {
  url: string;
  stop(): Promise<void>;
}

export async function startPythonBackend(heartbeatSeconds: number | null): Promise<PythonBackend> {
  const args = [SCRIPT, ...(heartbeatSeconds === null ? [] : ['--heartbeat', String(heartbeatSeconds)])];
  const child: ChildProcess = spawn('python3', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`python websockets server did not start: ${err}`)),
      10_000,
    );
    child.stdout!.once('data', (c: Buffer) => {
      clearTimeout(timer);
      resolve(Number(c.toString().trim()));
    });
    child.once('exit', (code) => reject(new Error(`python websockets server exited ${code}: ${err}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
