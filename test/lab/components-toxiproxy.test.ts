// Network faults from a real toxiproxy-server in front of a tiny TCP echo server.
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startToxiproxy, type ToxiproxyServer } from '../../lab/runner/components/toxiproxy.js';
import { freePort } from '../../lab/runner/ports.js';

function connectTo(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => resolve(socket));
    socket.once('error', reject);
  });
}

function nextData(socket: Socket, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.off('data', onData);
      resolve(undefined);
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      clearTimeout(timer);
      resolve(chunk.toString());
    };
    socket.once('data', onData);
  });
}

describe('toxiproxy', { timeout: 20_000 }, () => {
  let echo: Server;
  let echoPort: number;
  let received = '';
  const echoSockets = new Set<Socket>();
  let toxi: ToxiproxyServer;

  before(async () => {
    echo = createServer((socket) => {
      echoSockets.add(socket);
      socket.on('data', (chunk) => {
        received += chunk.toString();
        socket.write(chunk);
      });
      socket.on('close', () => echoSockets.delete(socket));
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    echoPort = (echo.address() as { port: number }).port;
    toxi = await startToxiproxy();
  });

  after(async () => {
    await toxi?.stop();
    for (const s of echoSockets) s.destroy();
    await new Promise((resolve) => echo?.close(resolve));
  });

  it('answers /version and relays bytes through a proxy', async () => {
    // The client hands back the raw body. A go-install build reports "git", a release its number.
    const { version } = JSON.parse(await toxi.client.getVersion()) as { version: string };
    assert.match(version, /^(git|\d+\.\d+\.\d+)$/);
    const listenPort = await freePort();
    const proxy = await toxi.createProxy('echo_relay', listenPort, `127.0.0.1:${echoPort}`);
    assert.equal(proxy.listen, `127.0.0.1:${listenPort}`);
    const socket = await connectTo(listenPort);
    socket.write('ping');
    assert.equal(await nextData(socket, 2000), 'ping');
    socket.destroy();
  });

  it('a timeout toxic with timeout=0 on both streams silences the connection without closing it', async () => {
    const listenPort = await freePort();
    await toxi.createProxy('echo_silent', listenPort, `127.0.0.1:${echoPort}`);
    const socket = await connectTo(listenPort);
    let closed = false;
    socket.once('close', () => {
      closed = true;
    });
    received = '';
    socket.write('one');
    assert.equal(await nextData(socket, 2000), 'one');

    const down = await toxi.addToxic('echo_silent', { type: 'timeout', attributes: { timeout: 0 } });
    const up = await toxi.addToxic('echo_silent', {
      type: 'timeout',
      stream: 'upstream',
      attributes: { timeout: 0 },
    });
    assert.equal(down.name, 'timeout_downstream');
    assert.equal(up.name, 'timeout_upstream');

    socket.write('two');
    assert.equal(await nextData(socket, 1500), undefined);
    await sleep(100);
    assert.equal(received, 'one', 'the upstream never saw the bytes sent while the toxic was on');
    assert.equal(closed, false);
    assert.equal(socket.readyState, 'open');

    await toxi.reset();
    const proxies = await toxi.client.getAll();
    assert.deepEqual(
      Object.keys(proxies).sort(),
      ['echo_relay', 'echo_silent'],
      'reset keeps the proxies and only clears toxics',
    );
    await toxi.removeAll();
    assert.deepEqual(Object.keys(await toxi.client.getAll()), []);
    socket.destroy();
  });
});
