#!/usr/bin/env bash
# Validates the Kubernetes manifests in infra/ against the Kubernetes API schemas, offline
# (kubernetes-validate from PyPI bundles them). Custom resources (ServiceMonitor, PrometheusRule,
# cert-manager's ClusterIssuer) have no bundled schema and are not checked here.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.tools/kubernetes-validate
if [ ! -x "$VENV/bin/kubernetes-validate" ]; then
  python3 -m venv "$VENV" 2>/dev/null || {
    if [ "$(id -u)" -eq 0 ]; then apt-get install -y -qq python3-venv >/dev/null; else sudo apt-get install -y -qq python3-venv >/dev/null; fi
    python3 -m venv "$VENV"
  }
  "$VENV/bin/pip" install -q --disable-pip-version-check kubernetes-validate==1.37.0
fi
files=()
while IFS= read -r f; do files+=("$f"); done < <(find infra/k8s -name '*.yaml' ! -name 'kustomization.yaml' ! -name 'clusterissuer.example.yaml' | sort)
"$VENV/bin/kubernetes-validate" --strict --quiet "${files[@]}"
echo "infra: ${#files[@]} manifests valid"
