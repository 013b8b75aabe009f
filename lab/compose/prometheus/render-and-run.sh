#!/bin/sh
# Entrypoint of the compose `prometheus` service (busybox sh in prom/prometheus; plain POSIX).
#
# Prometheus does not expand environment variables in its config, so this renders the shared
# template lab/configs/prometheus/prometheus.yml.template (mounted read-only, never copied into
# the repo) and then execs the command it was given with --config.file added.
#
#   SIDECAR_TARGETS  YAML flow list of host:port scrape targets, e.g. ["sidecar-1:9464"] (required)
#   PROM_TEMPLATE    the mounted template          (default /etc/socketlens/prometheus.yml.template)
#   PROM_RULES_SRC   the mounted dashboards/alerts (default /etc/socketlens/alerts)
#   PROM_OUT_DIR     where the rendered config goes (default /prometheus/socketlens)
#
# Rules: the template loads RULES_DIR/*.yml, but dashboards/alerts also holds promtool unit tests
# (*.test.yml), which are not rule files and would make Prometheus refuse the config. RULES_DIR
# is therefore a directory of symlinks to every *.yml there except *.test.yml: the rules Prometheus
# reads are still the repository's files, and a reload (POST /-/reload) sees edits to them.
#
# With no arguments it only renders and prints the config path; the offline tests use that.
set -eu

template=${PROM_TEMPLATE:-/etc/socketlens/prometheus.yml.template}
rules_src=${PROM_RULES_SRC:-/etc/socketlens/alerts}
out_dir=${PROM_OUT_DIR:-/prometheus/socketlens}
targets=${SIDECAR_TARGETS:?SIDECAR_TARGETS must list the scrape targets, e.g. [\"sidecar-1:9464\"]}

case $targets in
  *'|'* | *'&'* | *'\'*)
    echo "render-and-run: SIDECAR_TARGETS may not contain | & or \\: $targets" >&2
    exit 2
    ;;
esac

rules_dir=$out_dir/rules
mkdir -p "$rules_dir"
rm -f "$rules_dir"/*.yml
for rule in "$rules_src"/*.yml; do
  [ -e "$rule" ] || continue
  case $rule in *.test.yml) continue ;; esac
  ln -s "$rule" "$rules_dir/$(basename "$rule")"
done

config=$out_dir/prometheus.yml
sed -e "s|\${SIDECAR_TARGETS}|$targets|g" -e "s|\${RULES_DIR}|$rules_dir|g" "$template" >"$config.tmp"
if grep -q '\${[A-Z]' "$config.tmp"; then
  echo "render-and-run: $template has a placeholder this script does not fill:" >&2
  grep -n '\${[A-Z]' "$config.tmp" >&2
  exit 2
fi
mv "$config.tmp" "$config"

if [ "$#" -eq 0 ]; then
  echo "$config"
  exit 0
fi
exec "$@" "--config.file=$config"
