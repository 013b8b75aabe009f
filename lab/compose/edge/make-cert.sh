#!/bin/sh
# The compose `edge-cert` step: a throwaway self-signed certificate for the nginx edge, written
# into the `edge-tls` volume once (later `up`s reuse it). Same recipe as the native lab
# (lab/runner/tls.ts): EC P-256, with names for both ways of dialing the edge — `edge` inside the
# compose network and localhost / 127.0.0.1 through the published port.
#
#   TLS_DIR   where edge.crt and edge.key go (default /tls)
#   TLS_DAYS  validity in days (default 30)
set -eu

dir=${TLS_DIR:-/tls}
days=${TLS_DAYS:-30}
crt=$dir/edge.crt
key=$dir/edge.key

if [ -s "$crt" ] && [ -s "$key" ]; then
  echo "edge-cert: reusing $crt"
  exit 0
fi

mkdir -p "$dir"
openssl req -x509 -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
  -keyout "$key.tmp" -out "$crt.tmp" -days "$days" -subj /CN=localhost \
  -addext 'subjectAltName=DNS:localhost,DNS:edge,IP:127.0.0.1'
# The key stays private to its owner; nginx reads it as root before dropping privileges.
chmod 600 "$key.tmp"
chmod 644 "$crt.tmp"
mv "$key.tmp" "$key"
mv "$crt.tmp" "$crt"
echo "edge-cert: wrote $crt"
