#!/usr/bin/env bash
# Builds, without any image registry, the third-party images that docker-compose.yml and the
# Dockerfile name, as local stand-ins carrying the real software from Debian packages:
#
#   image name (as the files use it)      stand-in content
#   node:20.19.0-bookworm-slim            this machine's node + npm (nodejs >= 20.6 required),
#                                         trusting the machine's local CAs like the host does
#   docker:27.3.1-cli                     this machine's docker CLI + the Compose v2 plugin
#   nginx:1.27.4-alpine                   Debian bookworm nginx (1.22) + the official template step
#   haproxy:3.0.5-alpine                  Debian bookworm haproxy (2.6)
#   redis:7.4.2-alpine                    Debian bookworm redis-server (7.0)
#   prom/prometheus:v2.55.1               Debian bookworm prometheus (2.42)
#   ghcr.io/shopify/toxiproxy:2.12.0      toxiproxy v2.12.0 built from its Go module
#
# grafana/grafana is not built (not packaged by Debian): its service is checked for configuration
# and provisioning only. Every stand-in is labelled socketlens.stand-in=true and with a hash of
# its recipe; an image whose label matches is kept, so a second run builds nothing.
#
#   scripts/images/build.sh               # needs root, debootstrap, go, a running dockerd
#   scripts/images/build.sh --list        # the image names, one a line
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

STAND_INS=(
  "node:20.19.0-bookworm-slim node"
  "nginx:1.27.4-alpine nginx"
  "haproxy:3.0.5-alpine haproxy"
  "redis:7.4.2-alpine redis"
  "prom/prometheus:v2.55.1 prometheus"
  "ghcr.io/shopify/toxiproxy:2.12.0 toxiproxy"
  "docker:27.3.1-cli docker-cli"
)
if [ "${1:-}" = --list ]; then
  for s in "${STAND_INS[@]}"; do echo "${s%% *}"; done
  exit 0
fi

export BASE_IMAGE=${BASE_IMAGE:-socketlens-offline/debian:bookworm}
CACHE_DIR=${SOCKETLENS_IMAGE_CACHE:-/var/cache/socketlens-images}
TOXIPROXY_VERSION=v2.12.0
mkdir -p "$CACHE_DIR"
log() { printf '[images] %s\n' "$*"; }

bash "$here/base.sh"
base_id=$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE")

node_bin=$(command -v node)
npm_dir=$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)
docker_bin=$(command -v docker)

toxiproxy_bin=$CACHE_DIR/toxiproxy-server-$TOXIPROXY_VERSION
if [ ! -x "$toxiproxy_bin" ]; then
  log "go install github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION (static)"
  gobin=$(mktemp -d)
  CGO_ENABLED=0 GOBIN=$gobin go install \
    -ldflags "-X github.com/Shopify/toxiproxy/v2.Version=${TOXIPROXY_VERSION#v}" \
    "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION"
  mv "$gobin/server" "$toxiproxy_bin"
  rm -rf "$gobin"
fi

# What goes into each build context besides its Dockerfile, and what identifies it for the cache.
stage() {
  local dir=$1 ctx=$2
  case $dir in
    node)
      cp "$node_bin" "$ctx/node"
      cp -r "$npm_dir" "$ctx/npm"
      mkdir -p "$ctx/local-ca"
      cp /usr/local/share/ca-certificates/*.crt "$ctx/local-ca/" 2>/dev/null || true
      printf "local CAs %s; " "$(cat "$ctx"/local-ca/*.crt 2>/dev/null | sha256sum | cut -c1-12)"
      echo "node $("$node_bin" --version) npm $(node "$npm_dir/bin/npm-cli.js" --version)"
      ;;
    docker-cli)
      compose_plugin=$(docker info -f '{{range .ClientInfo.Plugins}}{{if eq .Name "compose"}}{{.Path}}{{end}}{{end}}' 2>/dev/null || true)
      [ -n "$compose_plugin" ] || { log "the Compose v2 plugin is missing (.ci/install-deps.sh installs it)" >&2; return 1; }
      cp "$docker_bin" "$ctx/docker"
      cp "$compose_plugin" "$ctx/docker-compose"
      echo "$("$docker_bin" --version) $(docker compose version --short)"
      ;;
    toxiproxy)
      cp "$toxiproxy_bin" "$ctx/toxiproxy-server"
      echo "toxiproxy $TOXIPROXY_VERSION"
      ;;
    *) echo "debian bookworm" ;;
  esac
}

for entry in "${STAND_INS[@]}"; do
  name=${entry%% *}
  dir=${entry##* }
  ctx=$(mktemp -d)
  cp -r "$here/$dir/." "$ctx/"
  identity=$(stage "$dir" "$ctx")
  recipe=$( (cd "$here/$dir" && cat Dockerfile ./*.sh 2>/dev/null; echo "$base_id $identity") | sha256sum | cut -c1-16)
  have=$(docker image inspect -f '{{index .Config.Labels "socketlens.recipe"}}' "$name" 2>/dev/null || true)
  if [ "$have" = "$recipe" ]; then
    log "$name up to date ($identity)"
  else
    log "building $name ($identity)"
    t0=$(date +%s)
    # The classic builder: it takes FROM images from the local store and never asks a registry.
    DOCKER_BUILDKIT=0 docker build -q --force-rm --build-arg "BASE=$BASE_IMAGE" \
      --label socketlens.stand-in=true --label "socketlens.recipe=$recipe" \
      --label "socketlens.content=$identity" -t "$name" "$ctx" >/dev/null
    log "built $name in $(($(date +%s) - t0)) s"
  fi
  rm -rf "$ctx"
done
