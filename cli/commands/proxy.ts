/** `socketlens proxy`: run the sidecar in front of a backend until SIGTERM or SIGINT. */
import { SUMMARIES } from '../summaries.js';
import { renderHelp } from '../../proxy/config/help.js';
import { parseArgs, unknownEnvVariables } from '../../proxy/config/load.js';
import { VARIABLES_READ_ELSEWHERE } from '../environment.js';
import { resolveSidecarConfig, SIDECAR_OPTIONS } from '../../proxy/config/sidecar-options.js';
import { buildChecks } from '../../proxy/policy/checks.js';
import { startSidecar } from '../../proxy/sidecar.js';
import { setupTracingFromEnv } from '../../proxy/telemetry/tracing.js';

export const summary = SUMMARIES.proxy;

export const help = () =>
  renderHelp(
    'socketlens proxy --target <url> [options]',
    summary,
    SIDECAR_OPTIONS,
    [
      'Every option can also be set by its environment variable or in the --config file',
      '(keys in camelCase or kebab-case). Precedence: flag > environment > file > default.',
      'Durations: 500ms, 2s, 1m, 1h or plain milliseconds. Sizes: 65536, 64KiB, 1MiB.',
      'Tracing: set OTEL_EXPORTER_OTLP_ENDPOINT (and OTEL_SERVICE_NAME) to export one span per connection',
      'over OTLP/HTTP; README "Traces" lists every OTEL_* variable read.',
    ].join('\n'),
  );

export async function run(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const args = parseArgs(argv, SIDECAR_OPTIONS);
  if (args.help) {
    process.stdout.write(help());
    return 0;
  }
  if (args.positionals.length > 0) {
    process.stderr.write(`socketlens proxy: unexpected argument "${args.positionals[0]}" (see --help)\n`);
    return 2;
  }
  for (const line of unknownEnvVariables(SIDECAR_OPTIONS, env, VARIABLES_READ_ELSEWHERE))
    process.stderr.write(`socketlens proxy: ${line}\n`);
  const config = resolveSidecarConfig(args, env);
  const stopTracing = await setupTracingFromEnv(env);
  const checks = await buildChecks(config);
  const sidecar = await startSidecar(config, { checks });
  process.stderr.write(
    `socketlens: proxying ${sidecar.url} -> ${config.target.origin}` +
      `${sidecar.adminUrl ? `, admin ${sidecar.adminUrl}` : ''}\n`,
  );
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      process.stderr.write(
        `socketlens: ${signal}: draining (refusing for ${config.drainDelay} ms, then closing over ${config.drainWindow} ms, each close given ${config.drainTimeout} ms)\n`,
      );
      sidecar
        .shutdown()
        .then(() => stopTracing?.())
        .then(() => resolve(0));
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
