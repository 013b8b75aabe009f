/**
 * Redis for the demo backend's cross-node pub/sub: a real redis-server with
 * lab/configs/redis/redis.conf (no persistence), on its own port and work dir.
 *
 *   const redis = await startRedis();
 *   createClient({ url: redis.url });
 *   await redis.stop();
 */
import { findBinary } from '../binaries.js';
import { configPath } from '../paths.js';
import { freePort, retryOnPortClash } from '../ports.js';
import { startProcess } from '../process.js';
import { prepareWorkDir, type WorkDirOptions } from '../workdir.js';

export interface RedisOptions extends WorkDirOptions {
  port?: number;
  host?: string;
}

export interface RedisServer {
  readonly port: number;
  /** redis://host:port */
  readonly url: string;
  readonly workDir: string;
  readonly logPath: string;
  /** Kills redis-server (dropping every client) and starts it again, empty, on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedis(opts: RedisOptions = {}): Promise<RedisServer> {
  const redis = findBinary('redis-server');
  const work = prepareWorkDir('redis', opts);
  const host = opts.host ?? '127.0.0.1';
  let port = 0;

  const proc = await retryOnPortClash(async () => {
    port = opts.port ?? (await freePort(host));
    return startProcess({
      name: 'redis',
      command: redis,
      // Flags after the config file override it; `--save ''` repeats the no-persistence rule
      // so the lab stays ephemeral even if someone edits the shared file.
      args: [
        configPath('redis', 'redis.conf'),
        '--port',
        String(port),
        '--bind',
        host,
        '--dir',
        work.path,
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      workDir: work.path,
      ready: { port, host },
    });
  });

  return {
    port,
    url: `redis://${host}:${port}`,
    workDir: work.path,
    logPath: proc.logPath,
    restart: () => proc.restart(),
    async stop() {
      await proc.stop();
      await work.release();
    },
  };
}
