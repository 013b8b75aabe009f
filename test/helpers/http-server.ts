/** Start and stop the plain node:http (or net) servers that tests put behind a sidecar. */
import { once } from 'node:events';
import type http from 'node:http';
import type net from 'node:net';

/** Listens on an ephemeral loopback port and returns that port. */
export async function listenLoopback(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

/** Stops a test's HTTP server, cutting the connections it still holds (keep-alive ones too). */
export function closeHttpServer(server: http.Server): void {
  server.closeAllConnections();
  server.close();
}
