#!/usr/bin/env bash
# The compose lab on a real engine, end to end (test/compose/engine.test.ts runs it under
# `.ci/run`; it also runs on its own: `bash .ci/compose.sh`):
#
#   1. install docker.io, debootstrap, iptables and the Compose v2 plugin (.ci/install-deps.sh);
#   2. start dockerd if none is running (and only then stop it at the end);
#   3. build the offline base and the third-party stand-ins (scripts/images/build.sh, cached
#      between runs) and the project's images from its Dockerfile (`docker compose build`);
#   4. `docker compose up -d --wait`, then check every service's state and health;
#   5. every drill from the host (`socketlens lab --env compose`), then once more through
#      `docker compose run --rm drills`;
#   6. tear down: `docker compose down -v` for its own project, and if it started dockerd, stop it
#      and remove what dockerd added to the host (its bridges, its iptables rules and chains,
#      net.ipv4.ip_forward).
#
# It runs as its own compose project (socketlens-ci) on its own loopback address (LAB_BIND,
# default 127.0.0.77), so a lab stack the user has up is left alone. Grafana cannot be built
# here (not in Debian), so it is not started: its configuration and provisioning are checked
# offline by test/compose/grafana.test.ts.
#
# SOCKETLENS_DRILL (a comma-separated subset) and SOCKETLENS_RUNS (repeats) reach both drill runs,
# as `lab --drill`/`--runs` take them; CI leaves them unset (every drill, once).
#
# Output: progress lines with elapsed seconds, and at the end one line per report:
#   report host <dir>      report container <dir>
# Exit 0 only if every step passed; 77 when it cannot run here (not root).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-socketlens-ci}
export LAB_BIND=${LAB_BIND:-127.0.0.77}
out=${SOCKETLENS_CI_OUT:-$root/.lab/compose-ci}
t_start=$(date +%s)
log() { printf '[compose-ci %4ds] %s\n' "$(($(date +%s) - t_start))" "$*"; }

if [ "$(id -u)" != 0 ]; then
  log "needs root (dockerd, debootstrap, iptables); skipped"
  exit 77
fi

rm -rf "$out"
mkdir -p "$out"
bash .ci/install-deps.sh
export PATH="$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin:$PATH"

# --- the engine ----------------------------------------------------------------------------------
dockerd_pid=
ip_forward_before=
started_dockerd() { [ -n "$dockerd_pid" ]; }
if docker info >/dev/null 2>&1; then
  log "dockerd already running: using it, and leaving it running"
else
  iptables-save >"$out/iptables.before"
  ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort >"$out/links.before"
  ip_forward_before=$(cat /proc/sys/net/ipv4/ip_forward)
  log "starting dockerd (log: $out/dockerd.log)"
  dockerd >"$out/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || { tail -n 20 "$out/dockerd.log" >&2; exit 1; }
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { log "dockerd did not answer within 60 s"; exit 1; }
fi

# Deletes what dockerd added to the host, by difference with the snapshots taken before it
# started: rules (-A lines) it appended, then chains it created, per table.
restore_host() {
  local table= line
  iptables-save >"$out/iptables.after"
  while IFS= read -r line; do
    case $line in
      '*'*) table=${line#\*} ;;
      -A\ *)
        if ! grep -qxF -- "$line" "$out/iptables.before"; then
          # shellcheck disable=SC2086 # the rule spec is word-split as iptables-save wrote it
          eval "iptables -t $table -D ${line#-A }" 2>/dev/null || true
        fi
        ;;
    esac
  done <"$out/iptables.after"
  while IFS= read -r line; do
    case $line in
      '*'*) table=${line#\*} ;;
      :*)
        local chain=${line#:}
        chain=${chain%% *}
        if ! grep -q "^:$chain " "$out/iptables.before"; then
          iptables -t "$table" -F "$chain" 2>/dev/null || true
          iptables -t "$table" -X "$chain" 2>/dev/null || true
        fi
        ;;
    esac
  done <"$out/iptables.after"
  # Bridges and veths that were not there before (docker0, br-*, leftovers).
  ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort >"$out/links.after"
  comm -13 "$out/links.before" "$out/links.after" | while read -r link; do
    ip link delete "$link" 2>/dev/null || true
  done
  echo "$ip_forward_before" >/proc/sys/net/ipv4/ip_forward
}

teardown() {
  local rc=$?
  trap - EXIT
  log "teardown"
  docker compose --profile drills down -v --remove-orphans >"$out/down.log" 2>&1 || cat "$out/down.log" >&2
  if started_dockerd; then
    kill -TERM "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$dockerd_pid" 2>/dev/null && kill -KILL "$dockerd_pid"
    wait "$dockerd_pid" 2>/dev/null || true
    restore_host
    if [ "$(iptables-save | grep -c DOCKER || true)" != 0 ]; then log "warning: DOCKER iptables rules remain"; fi
    log "stopped dockerd and removed its bridges and iptables rules"
  fi
  log "done, exit $rc"
  exit "$rc"
}
trap teardown EXIT
trap 'exit 143' TERM INT

# --- images --------------------------------------------------------------------------------------
log "offline base and third-party stand-ins"
bash scripts/images/build.sh
log "project images from the Dockerfile (targets lab and sidecar)"
# One `docker build` per image, in turn, so the second reuses the first's layers (compose's build
# with the classic builder runs one build per service, in parallel). The classic builder takes
# the stand-ins from the local image store and never asks a registry.
tag=${SOCKETLENS_IMAGE_TAG:-0.1.0}
for target in lab sidecar; do
  DOCKER_BUILDKIT=0 docker build -q --force-rm --target "$target" -t "socketlens/$target:$tag" . >>"$out/build.log" 2>&1 ||
    { tail -n 30 "$out/build.log" >&2; exit 1; }
  log "built socketlens/$target:$tag"
done

# --- up ------------------------------------------------------------------------------------------
mapfile -t services < <(docker compose config --services | grep -vx grafana)
log "docker compose up -d --wait ${services[*]}"
docker compose up -d --no-build --wait "${services[@]}" >"$out/up.log" 2>&1 || { tail -n 30 "$out/up.log" >&2; exit 1; }
docker compose ps --all --format json >"$out/ps.json"
node --input-type=module - "$out/ps.json" "${services[@]}" <<'EOF'
import { readFileSync } from 'node:fs';
const [file, ...expected] = process.argv.slice(2);
const text = readFileSync(file, 'utf8').trim();
const rows = text.startsWith('[') ? JSON.parse(text) : text.split('\n').map((l) => JSON.parse(l));
const bad = [];
for (const name of expected) {
  const r = rows.find((x) => x.Service === name);
  if (!r) bad.push(`${name}: no container`);
  else if (name === 'edge-cert') {
    if (r.State !== 'exited' || r.ExitCode !== 0) bad.push(`${name}: ${r.State} exit ${r.ExitCode}`);
  } else if (r.State !== 'running') bad.push(`${name}: ${r.State}`);
  else if (r.Health && r.Health !== 'healthy') bad.push(`${name}: ${r.Health}`);
  else console.log(`[compose-ci] ${name}: running${r.Health ? ', healthy' : ''}`);
}
if (bad.length) {
  console.error(`[compose-ci] unhealthy: ${bad.join('; ')}`);
  process.exit(1);
}
EOF

# --- drills --------------------------------------------------------------------------------------
log "every drill from the host: socketlens lab --env compose"
failed=
node bin/socketlens.js lab --env compose --report "$out/host-report" >"$out/host-scorecard.txt" 2>"$out/host-progress.log" ||
  { failed="$failed host"; tail -n 20 "$out/host-progress.log" >&2; }
cat "$out/host-scorecard.txt"

# Run even when the host run failed, so one CI run shows both.
log "every drill from a container: docker compose run --rm drills (from a subdirectory, PWD unset)"
rm -rf lab-report.ci-saved
[ -d lab-report ] && mv lab-report lab-report.ci-saved
(cd lab && env -u PWD docker compose run --rm drills) >"$out/container-scorecard.txt" 2>"$out/container-progress.log" ||
  { failed="$failed container"; tail -n 20 "$out/container-progress.log" >&2; }
cat "$out/container-scorecard.txt"
[ -d lab-report ] && mv lab-report "$out/container-report"
[ -d lab-report.ci-saved ] && mv lab-report.ci-saved lab-report
if [ -n "$failed" ]; then
  # Exit 3, not 1: the stack came up and both runs wrote their reports; which drills failed is
  # in the reports, for test/compose/engine.test.ts to judge one by one.
  log "drills failed:$failed"
  exit 3
fi

log "report host $out/host-report"
log "report container $out/container-report"
