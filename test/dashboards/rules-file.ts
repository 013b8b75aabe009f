import { DRILLS as LAB_DRILLS } from '../../lab/drills/index.js';
// Loads the alert and recording rules and their promtool unit tests, for the dashboards tests.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../../dashboards/src/boards.js';

export const ROOT = repoRoot();
export const RULES_FILE = 'dashboards/alerts/socketlens.rules.yml';
export const RULES_TEST_FILE = 'dashboards/alerts/socketlens.rules.test.yml';

/** The lab drills a runbook may point at (lab/drills/<name>.ts). */
export const DRILLS: readonly string[] = LAB_DRILLS.map((d) => d.name);

export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RulesFile {
  groups: { name: string; rules: Rule[] }[];
}

export interface RulesTestFile {
  rule_files: string[];
  tests: {
    name: string;
    alert_rule_test?: { alertname: string; eval_time: string; exp_alerts: unknown[] }[];
  }[];
}

export function loadRules(): RulesFile {
  return parse(readFileSync(join(ROOT, RULES_FILE), 'utf8')) as RulesFile;
}

export function loadRulesTests(): RulesTestFile {
  return parse(readFileSync(join(ROOT, RULES_TEST_FILE), 'utf8')) as RulesTestFile;
}

export function allRules(file: RulesFile = loadRules()): Rule[] {
  return file.groups.flatMap((g) => g.rules);
}
