/**
 * The lab runner: real nginx, HAProxy, Toxiproxy, Redis and Prometheus as child processes on
 * ephemeral loopback ports, each rendered from the templates in lab/configs/ that
 * docker-compose mounts too.
 *
 * Every starter returns ports/URLs and `stop()`; runtime files go to a fresh directory under
 * `.lab/` (SOCKETLENS_LAB_DIR to move it, SOCKETLENS_LAB_KEEP=1 to keep it after stop).
 * Children die with the Node process that started them.
 */
export { findBinary, installHint } from './binaries.js';
export {
  type HaproxyHop,
  type HaproxyOptions,
  type HaproxyPool,
  type HaproxyPoolOptions,
  startHaproxy,
  startHaproxyPool,
} from './components/haproxy.js';
export { type NginxEdge, type NginxOptions, startNginx } from './components/nginx.js';
export {
  checkPrometheusConfig,
  type PrometheusAlert,
  type PrometheusOptions,
  type PrometheusServer,
  renderPrometheusConfig,
  startPrometheus,
  type VectorSample,
} from './components/prometheus.js';
export { type RedisOptions, type RedisServer, startRedis } from './components/redis.js';
export {
  startToxiproxy,
  type ToxicSpec,
  type ToxiproxyOptions,
  type ToxiproxyServer,
} from './components/toxiproxy.js';
export { isLabError, LabError, type LabErrorCode } from './errors.js';
export { configPath, defaultWorkRoot, repoRoot } from './paths.js';
export { freePort, retryOnPortClash } from './ports.js';
export { type ManagedProcess, type ProcessSpec, startProcess } from './process.js';
export { renderTemplate, renderTemplateFile, type TemplateVars, templatePlaceholders } from './template.js';
export { probeTcp, waitForHttp, waitForPort, waitUntil } from './wait.js';
