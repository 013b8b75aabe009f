#!/bin/sh
# Renders /etc/nginx/templates/*.template into /etc/nginx/conf.d/ like the official image does:
# only variables defined in the environment are substituted, so nginx's own $variables stay.
set -eu
if [ "${1:-}" = nginx ]; then
  defined=$(env | cut -d= -f1 | sed 's/.*/${&}/' | tr '\n' ' ')
  for t in /etc/nginx/templates/*.template; do
    [ -e "$t" ] || continue
    out=/etc/nginx/conf.d/$(basename "$t" .template)
    envsubst "$defined" <"$t" >"$out"
    echo "docker-entrypoint: rendered $t to $out"
  done
fi
exec "$@"
