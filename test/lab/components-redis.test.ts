// A real redis-server: PING answers PONG over raw RESP (no client library in between).
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type RedisServer, startRedis } from '../../lab/runner/components/redis.js';

function sendRaw(port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => socket.write(payload));
    socket.setEncoding('utf8');
    socket.once('data', (reply: string) => {
      socket.destroy();
      resolve(reply);
    });
    socket.once('error', reject);
  });
}

describe('redis', { timeout: 20_000 }, () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  it('answers PING with PONG', async () => {
    assert.equal(redis.url, `redis://127.0.0.1:${redis.port}`);
    assert.equal(await sendRaw(redis.port, '*1\r\n$4\r\nPING\r\n'), '+PONG\r\n');
  });

  it('persists nothing', async () => {
    const reply = await sendRaw(redis.port, '*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$4\r\nsave\r\n');
    assert.equal(reply, '*2\r\n$4\r\nsave\r\n$0\r\n\r\n');
  });
});
