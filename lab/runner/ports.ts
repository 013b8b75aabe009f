/**
 * Ephemeral ports for lab components.
 *
 * The kernel picks a free port for a throwaway listener, which is closed before the component
 * binds it. That leaves a small window in which another process can take the port; starters
 * close it with `retryOnPortClash`, which starts again on fresh ports when the child died
 * complaining that its address was in use.
 */
import { createServer } from 'node:net';
import { isLabError } from './errors.js';

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('freePort: no port assigned'))));
    });
  });
}

const ADDRESS_IN_USE = /address already in use|EADDRINUSE|cannot bind socket|could not bind/i;

/** Runs `start` again (it must pick new ports each time) if the child lost a port race. */
export async function retryOnPortClash<T>(start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await start();
    } catch (err) {
      const clash = isLabError(err, 'SL_LAB_PROCESS_EXITED') && ADDRESS_IN_USE.test(err.logTail ?? '');
      if (!clash || i >= attempts) throw err;
    }
  }
}
