/**
 * Renders the lab's config templates.
 *
 * Placeholders are `${UPPER_SNAKE}` only. That is the subset both consumers of these files
 * understand: the official nginx image runs envsubst over *.template files, and HAProxy expands
 * "${VAR}" inside double quotes itself. So docker-compose mounts the very same files, and the
 * local runner renders them here. Anything else that starts with `$` — nginx's own variables
 * such as `$http_upgrade` or `${host}` — is left exactly as written.
 */
import { readFileSync } from 'node:fs';
import { LabError } from './errors.js';

export type TemplateVars = Readonly<Record<string, string | number>>;

const PLACEHOLDER = /\$\{([A-Z][A-Z0-9_]*)\}/g;

/** The distinct placeholder names used in `text`, in order of first appearance. */
export function templatePlaceholders(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(PLACEHOLDER)) names.add(m[1]!);
  return [...names];
}

/**
 * Replaces every `${NAME}` with `vars[NAME]`. Throws SL_LAB_TEMPLATE_MISSING_VAR naming every
 * placeholder without a value, rather than emitting a config with a hole in it (nginx would read
 * `${UPSTREAM}` as an unknown variable and fail far from the cause).
 */
export function renderTemplate(text: string, vars: TemplateVars, source = 'template'): string {
  const missing = templatePlaceholders(text).filter((name) => !Object.hasOwn(vars, name));
  if (missing.length > 0) {
    throw new LabError(
      'SL_LAB_TEMPLATE_MISSING_VAR',
      `${source}: no value for ${missing.map((n) => `\${${n}}`).join(', ')}`,
    );
  }
  return text.replace(PLACEHOLDER, (_, name: string) => String(vars[name]));
}

export function renderTemplateFile(path: string, vars: TemplateVars): string {
  return renderTemplate(readFileSync(path, 'utf8'), vars, path);
}
