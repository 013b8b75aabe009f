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
    flag: 'prometheus',
    kind: 'bool',
    group: 'Lab',
    default: false,
    help: 'Native: also run Prometheus with the alert rules, scraping every sidecar, and report the alerts each drill raised (slower: each sidecar waits for its first scrape).',
  },
] as const satisfies readonly OptionSpec[];

export const help = async () => {
  const missing = missingPackages(LAB_PACKAGES);
  const drills =
    missing.length === 0
      ? (await import('../../lab/drills/index.js')).DRILLS.map((d) => `  ${d.name.padEnd(22)} ${d.title}`)
      : [`  (the lab ${installLine(missing)})`];
  return renderHelp(
    'socketlens lab [--drill NAME] [--runs N] [--report DIR] [--env native|compose] [--prometheus]',
    summary,
    LAB_OPTIONS,
    ['Drills:', ...drills, '', 'Exit code 0 only if every drill passed.'].join('\n'),
  );
};

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
  try {
    selectDrills(o.drill ?? undefined);
  } catch (err) {
    throw new ConfigError('--drill', (err as Error).message);
  }
  const outcome = await runLab({
    drills: o.drill ?? undefined,
    runs: o.runs,
    reportDir: o.report,
    env: o.env,
    prometheus: o.prometheus,
  });
  process.stdout.write(outcome.scorecard);
  if (outcome.files) process.stderr.write(`report: ${outcome.files.json}, ${outcome.files.html}\n`);
  return outcome.report.passed ? 0 : 1;
}
