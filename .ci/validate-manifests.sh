#!/usr/bin/env bash
# Validates every Kubernetes manifest in deploy/ against the schemas of the Kubernetes version the
# kit targets, offline (the schemas ship inside the kubernetes-validate package), rejecting unknown
# fields (--strict). Bump K8S_VERSION together with the "Targets Kubernetes" line of the manifests.
set -euo pipefail
cd "$(dirname "$0")/.."
K8S_VERSION=1.33.0
mapfile -t files < <(find deploy -name '*.yaml' -o -name '*.yml' | sort)
if ((${#files[@]} == 0)); then
  echo "validate-manifests: no manifests under deploy/" >&2
  exit 1
fi
kubernetes-validate --kubernetes-version "$K8S_VERSION" --strict --quiet "${files[@]}"
echo "validate-manifests: ${#files[@]} file(s) valid for Kubernetes $K8S_VERSION (strict)"
