/** `socketlens lab`: run the chaos drills against real components and write the report. */
import { COMPOSE_PACKAGES, installLine, LAB_PACKAGES, missingPackages } from '../optional-packages.js';
import { SUMMARIES } from '../summaries.js';
import { renderHelp } from '../../proxy/config/help.js';
import { parseArgs, resolveOptions } from '../../proxy/config/load.js';
import type { OptionSpec } from '../../proxy/config/schema.js';
import { ConfigError } from '../../proxy/errors.js';

export const summary = SUMMARIES.lab;

export const LAB_OPTIONS = [
  {
    flag: 'drill',
    kind: 'list',
    group: 'Lab',
    help: 'Run only these drills (repeatable or comma-separated).',
  },
  {
    flag: 'runs',
    kind: 'int',
    group: 'Lab',
    default: 1,
    min: 1,
    max: 100,
    help: 'Run each drill N times; it passes only if every run does.',
  },
  {
    flag: 'report',
    kind: 'string',
    group: 'Lab',
    default: 'lab-report',
    help: 'Directory for report.json and report.html.',
  },
  {
    flag: 'env',
    kind: 'string',
    group: 'Lab',
    choices: ['native', 'compose'],
    default: 'native',
    help: 'native: child processes on loopback; compose: the docker-compose stack.',
  },
  {
    flag: 'drill-timeout',
    kind: 'duration',
    group: 'Lab',
    min: 1000,
    help: "Hard limit of each drill run (e.g. 5m), for every drill; default each drill's own limit (--help lists them).",
  },
  {
    flag: 'prometheus',
    kind: 'bool',
    group: 'Lab',
    default: false,
    help: 'Native: also run Prometheus with the alert rules, scraping every sidecar, and report the alerts each drill raised (slower: each sidecar waits for its first scrape).',
  },
  {
    flag: 'target',
    kind: 'url',
    group: 'Your service',
    noEnv: true,
    help: 'Run the drills that apply to any backend against this service (http://host:port) instead of the demo backend.',
  },
  {
    flag: 'ws-path',
    kind: 'string',
    group: 'Your service',
    noEnv: true,
    default: '/',
    help: "With --target: the service's WebSocket path (query allowed).",
  },
  {
    flag: 'sse-path',
    kind: 'string',
    group: 'Your service',
    noEnv: true,
    help: 'With --target: its Server-Sent Events path, if it has one.',
  },
  {
    flag: 'poll-path',
    kind: 'string',
    group: 'Your service',
    noEnv: true,
    help: 'With --target: its long-poll path, if it has one.',
  },
  {
    flag: 'message-file',
    kind: 'string',
    group: 'Your service',
    noEnv: true,
    help: 'With --target: a file holding one message that makes the service send data back (e.g. a subscribe), sent as text if it is UTF-8.',
  },
  {
    flag: 'zombie-window',
    kind: 'duration',
    group: 'Your service',
    noEnv: true,
    default: 10_000,
    min: 1000,
    help: 'With --target: how long the zombie drills wait for the service to notice a dead client.',
  },
  {
    flag: 'idle-timeout',
    kind: 'duration',
    group: 'Your service',
    noEnv: true,
    default: 3000,
    min: 500,
    help: "With --target: the idle timeout of the HAProxy hop in the idle drill (set it to your edge's, e.g. 60s).",
  },
] as const satisfies readonly OptionSpec[];

export const help = async () => {
  const missing = missingPackages(LAB_PACKAGES);
  const { DEFAULT_DRILL_TIMEOUT_MS } = await import('../../lab/drills/types.js');
  // Each drill with the limit of one run (--drill-timeout overrides them all).
  const list = (ds: ReadonlyArray<{ name: string; title: string; timeoutMs?: number }>) =>
    ds.map(
      (d) =>
        `  ${d.name.padEnd(22)} ${`${Math.round((d.timeoutMs ?? DEFAULT_DRILL_TIMEOUT_MS) / 1000)}s`.padStart(4)}  ${d.title}`,
    );
  const drills =
    missing.length === 0
      ? [
          'Drills (limit of one run):',
          ...list((await import('../../lab/drills/index.js')).DRILLS),
          '',
          'Drills with --target (against your service):',
          ...list((await import('../../lab/target/index.js')).TARGET_DRILLS),
        ]
      : ['Drills:', `  (the lab ${installLine(missing)})`];
  return renderHelp(
    'socketlens lab [--drill NAME] [--runs N] [--report DIR] [--env native|compose] [--drill-timeout D] [--prometheus]\n' +
      '       socketlens lab --target http://host:port --ws-path /ws [--sse-path P] [--poll-path P] [--message-file F]',
    summary,
    LAB_OPTIONS,
    [
      ...drills,
      '',
      'With --target, each drill reports what your service did and, where it failed, what to change.',
      'A drill that cannot apply to your service is skipped, with the reason.',
      'Exit code 0 only if every drill passed.',
    ].join('\n'),
  );
};

type LabArgs = ReturnType<typeof resolveOptions<typeof LAB_OPTIONS>>;

async function targetSpec(o: LabArgs): Promise<import('../../lab/target/types.js').TargetSpec> {
  const url = o.target!;
  if (o.env !== 'native') throw new ConfigError('--target', 'runs with --env native only');
  if (url.protocol !== 'http:' || url.pathname !== '/' || url.search)
    throw new ConfigError('--target', `"${url.href}" must be http://host:port (put the path in --ws-path)`);
  for (const [flag, p] of [
    ['--ws-path', o.wsPath],
    ['--sse-path', o.ssePath],
    ['--poll-path', o.pollPath],
  ] as const) {
    if (p !== null && !p.startsWith('/')) throw new ConfigError(flag, `"${p}" must start with /`);
  }
  let message: string | Buffer | null = null;
  if (o.messageFile) {
    const { readFile } = await import('node:fs/promises');
    const bytes = await readFile(o.messageFile).catch((err: NodeJS.ErrnoException) => {
      throw new ConfigError('--message-file', `cannot read ${o.messageFile}: ${err.code ?? err.message}`);
    });
    // UTF-8 goes as a text message (without the file's final newline), anything else as binary.
    const text = bytes.toString('utf8');
    message = Buffer.from(text, 'utf8').equals(bytes) ? text.replace(/\r?\n$/, '') : bytes;
  }
  return {
    url,
    address: `${url.hostname}:${url.port || 80}`,
    wsPath: o.wsPath,
    ssePath: o.ssePath,
    pollPath: o.pollPath,
    message,
    zombieWindowMs: o.zombieWindow,
    idleTimeoutMs: o.idleTimeout,
  };
}

export async function run(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const args = parseArgs(argv, LAB_OPTIONS);
  if (args.help) {
    process.stdout.write(await help());
    return 0;
  }
  if (args.positionals.length > 0) {
    process.stderr.write(`socketlens lab: unexpected argument "${args.positionals[0]}" (see --help)\n`);
    return 2;
  }
  const o = resolveOptions(LAB_OPTIONS, args, env);
  const missing = missingPackages(
    o.env === 'compose' ? [...LAB_PACKAGES, ...COMPOSE_PACKAGES] : LAB_PACKAGES,
  );
  if (missing.length > 0) {
    process.stderr.write(`socketlens lab: ${installLine(missing)}\n`);
    return 1;
  }
  const { runLab, selectDrills } = await import('../../lab/lab.js');
  const target = o.target ? await targetSpec(o) : undefined;
  try {
    if (target) {
      const { targetDrills } = await import('../../lab/target/index.js');
      selectDrills(o.drill ?? undefined, targetDrills(target));
    } else selectDrills(o.drill ?? undefined);
  } catch (err) {
    throw new ConfigError('--drill', (err as Error).message);
  }
  const outcome = await runLab({
    drills: o.drill ?? undefined,
    runs: o.runs,
    reportDir: o.report,
    env: o.env,
    ...(o.drillTimeout ? { drillTimeoutMs: o.drillTimeout } : {}),
    prometheus: o.prometheus,
    target,
  });
  process.stdout.write(outcome.scorecard);
  if (outcome.files) process.stderr.write(`report: ${outcome.files.json}, ${outcome.files.html}\n`);
  return outcome.report.passed ? 0 : 1;
}
