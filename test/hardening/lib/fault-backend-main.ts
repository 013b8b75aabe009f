/** Runs the fault backend as its own process: prints "port N" once listening; exits on SIGTERM. */
import { startFaultBackend } from './fault-backend.js';

const backend = await startFaultBackend('127.0.0.1', Number(process.argv[2] ?? 0));
process.stdout.write(`port ${backend.port}\n`);
process.on('SIGTERM', () => {
  backend.close().then(() => process.exit(0));
});
