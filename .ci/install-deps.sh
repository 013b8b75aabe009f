#!/usr/bin/env bash
# Installs the real components that the tests and the lab run against.
# Idempotent: each step is skipped when what it installs is already there.
set -euo pipefail

log() { printf '[deps] %s\n' "$*"; }

need_apt=()
# docker.io (dockerd 20.10, containerd, runc), debootstrap and iptables: the compose lab on a real
# engine (.ci/compose.sh), with base images built offline from Debian. mosquitto: the MQTT 5
# broker the MQTT decoder is tested against (aedes speaks only MQTT 3.1.1).
for cmd_pkg in nginx:nginx haproxy:haproxy redis-server:redis-server promtool:prometheus \
  chromium:chromium docker-compose:docker-compose openssl:openssl dockerd:docker.io \
  debootstrap:debootstrap iptables:iptables mosquitto:mosquitto; do
  cmd=${cmd_pkg%%:*}; pkg=${cmd_pkg##*:}
  if ! command -v "$cmd" >/dev/null 2>&1; then need_apt+=("$pkg"); fi
done

if ((${#need_apt[@]})); then
  if [ "$(id -u)" != 0 ]; then
    log "missing: ${need_apt[*]} (run as root, or: sudo apt-get install ${need_apt[*]})"
    exit 1
  fi
  log "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # Debian starts these as services on install; the lab runs its own instances.
  for svc in nginx haproxy redis-server prometheus docker containerd mosquitto; do
    (service "$svc" stop >/dev/null 2>&1 || true)
  done
else
  log "apt packages present"
fi

# Toxiproxy, the real server, built from its Go module.
TOXI_BIN="$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"
if command -v toxiproxy-server >/dev/null 2>&1; then
  log "toxiproxy-server present"
elif [ -x "$TOXI_BIN/toxiproxy-server" ]; then
  log "toxiproxy-server present in $TOXI_BIN"
else
  command -v go >/dev/null 2>&1 || { log "Go is needed to build toxiproxy-server"; exit 1; }
  log "go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0"
  GOBIN="$TOXI_BIN" go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0
  mv "$TOXI_BIN/server" "$TOXI_BIN/toxiproxy-server"
fi

# Real servers `socketlens doctor` and `socketlens lab --target` are tested against: Python
# websockets, and an SSE library (sse-starlette on uvicorn). Pinned; skipped when those exact
# versions are present.
PY_SERVERS=(websockets==17.4 sse-starlette==3.7.0 uvicorn==0.54.0)
if python3 - "${PY_SERVERS[@]}" >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import version
sys.exit(0 if all(version(n) == v for n, v in (s.split("==") for s in sys.argv[1:])) else 1)
PY
then
  log "python ${PY_SERVERS[*]} present"
else
  log "pip install ${PY_SERVERS[*]}"
  python3 -m pip install -q --disable-pip-version-check "${PY_SERVERS[@]}" 2>/dev/null ||
    python3 -m pip install -q --disable-pip-version-check --break-system-packages "${PY_SERVERS[@]}"
fi

# The Compose v2 CLI plugin (`docker compose`; `up --wait` needs v2), built from its Go module:
# Debian ships only docker-compose v1. Built once; the Go build cache makes a rebuild cheap.
COMPOSE_VERSION=v2.29.7
PLUGIN_DIR=/usr/local/lib/docker/cli-plugins
if docker compose version >/dev/null 2>&1; then
  log "docker compose plugin present ($(docker compose version --short))"
elif [ "$(id -u)" != 0 ]; then
  log "missing: the docker compose plugin (run as root to build it)"
  exit 1
else
  command -v go >/dev/null 2>&1 || { log "Go is needed to build the compose plugin"; exit 1; }
  log "go install github.com/docker/compose/v2/cmd@$COMPOSE_VERSION (several minutes, once)"
  gobin=$(mktemp -d)
  GOBIN="$gobin" go install -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION" \
    "github.com/docker/compose/v2/cmd@$COMPOSE_VERSION"
  mkdir -p "$PLUGIN_DIR"
  install -m 0755 "$gobin/cmd" "$PLUGIN_DIR/docker-compose"
  rm -rf "$gobin"
  log "installed $PLUGIN_DIR/docker-compose ($(docker compose version --short))"
fi

# kubernetes-validate: validates the Kubernetes manifests in deploy/ offline, against the JSON
# schemas of each Kubernetes version that ship inside the package (no download at run time).
KV_VERSION=1.37.0
if command -v kubernetes-validate >/dev/null 2>&1 && kubernetes-validate --version 2>/dev/null | grep -q "$KV_VERSION"; then
  log "kubernetes-validate $KV_VERSION present"
else
  log "pip install kubernetes-validate==$KV_VERSION"
  python3 -m pip install -q --break-system-packages "kubernetes-validate==$KV_VERSION" 2>/dev/null ||
    python3 -m pip install -q "kubernetes-validate==$KV_VERSION"
fi
