// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${NAME}` in plain strings is the template syntax under test.
// Template rendering, and the placeholder contract of the shared config files.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { configPath } from '../../lab/runner/paths.js';
import { renderTemplate, templatePlaceholders } from '../../lab/runner/template.js';

describe('renderTemplate', () => {
  it('replaces every occurrence, numbers included', () => {
    const out = renderTemplate('listen ${HOST}:${PORT}; server ${HOST}:${PORT};', {
      HOST: '127.0.0.1',
      PORT: 8443,
    });
    assert.equal(out, 'listen 127.0.0.1:8443; server 127.0.0.1:8443;');
  });

  it('throws a coded error naming every placeholder without a value', () => {
    assert.throws(() => renderTemplate('${A} ${B} ${C} ${B}', { A: 'x' }, 'edge.conf'), {
      name: 'LabError',
      code: 'SL_LAB_TEMPLATE_MISSING_VAR',
      message: 'edge.conf: no value for ${B}, ${C}',
    });
  });

  it('accepts an empty string as a value', () => {
    assert.equal(renderTemplate('a${X}b', { X: '' }), 'ab');
  });

  it("leaves nginx's own variables untouched", () => {
    const text = [
      'map $http_upgrade $connection_upgrade { default upgrade; }',
      'proxy_set_header Host ${host};',
      'proxy_set_header X-Up $upstream_addr;',
      'server ${UPSTREAM};',
    ].join('\n');
    assert.equal(
      renderTemplate(text, { UPSTREAM: 'sidecar:8080' }),
      [
        'map $http_upgrade $connection_upgrade { default upgrade; }',
        'proxy_set_header Host ${host};',
        'proxy_set_header X-Up $upstream_addr;',
        'server sidecar:8080;',
      ].join('\n'),
    );
  });
});

describe('shared config templates', () => {
  const placeholders = (component: string, file: string) =>
    templatePlaceholders(readFileSync(configPath(component, file), 'utf8')).sort();

  it('edge.conf.template uses exactly the documented placeholders', () => {
    assert.deepEqual(placeholders('nginx', 'edge.conf.template'), [
      'ACCESS_LOG',
      'HTTPS_PORT',
      'HTTP_PORT',
      'LISTEN_ADDR',
      'TLS_CERT',
      'TLS_KEY',
      'UPSTREAM',
    ]);
  });

  it('edge.conf.template keeps the Upgrade map and header pair on /', () => {
    const text = readFileSync(configPath('nginx', 'edge.conf.template'), 'utf8');
    assert.match(text, /map \$http_upgrade \$connection_upgrade \{/);
    const root = text.slice(text.indexOf('location / {'), text.indexOf('location /stripped/'));
    assert.match(root, /proxy_set_header Upgrade \$http_upgrade;/);
    assert.match(root, /proxy_set_header Connection \$connection_upgrade;/);
    const broken = text.slice(text.indexOf('location /stripped/'));
    assert.doesNotMatch(broken, /proxy_set_header (Upgrade|Connection)/);
  });

  it('idle-hop.cfg.template quotes every placeholder (HAProxy expands env vars only in quotes)', () => {
    const text = readFileSync(configPath('haproxy', 'idle-hop.cfg.template'), 'utf8');
    assert.deepEqual(placeholders('haproxy', 'idle-hop.cfg.template'), [
      'CLIENT_FIN_TIMEOUT',
      'CONNECT_TIMEOUT',
      'IDLE_TIMEOUT',
      'LISTEN_ADDR',
      'LISTEN_PORT',
      'UPSTREAM',
    ]);
    for (const line of text.split('\n').filter((l) => l.includes('${'))) {
      assert.match(line, /"[^"]*\$\{[A-Z_]+\}[^"]*"/, `unquoted placeholder in: ${line}`);
    }
  });

  it('prometheus.yml.template uses SIDECAR_TARGETS and RULES_DIR', () => {
    assert.deepEqual(placeholders('prometheus', 'prometheus.yml.template'), ['RULES_DIR', 'SIDECAR_TARGETS']);
  });
});
