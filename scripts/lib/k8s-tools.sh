#!/usr/bin/env bash
# Installs what the offline checks of k8s/ need, once per machine, and prints where it
# is as KEY=VALUE lines (the manifests test runs it):
#   KUBECONFORM         kubeconform, built from the Go module proxy
#   K8S_SCHEMAS_<1.xx>  strict JSON schemas of Kubernetes 1.xx (one line per version)
#   CRD_SCHEMAS         strict JSON schemas of KEDA's and the Gateway API's resources
# "Strict" schemas reject fields they do not define, so a typo such as `readinesProbe`
# fails validation instead of being ignored as the API server would ignore it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$ROOT/scripts/lib/k8s.sh"

# Messages go to stderr: stdout is the KEY=VALUE answer.
say() { printf '%s %s\n' "[$(date +%H:%M:%S)]" "$*" >&2; }

TOOLS_DIR="$CACHE_DIR/k8s-tools"
mkdir -p "$TOOLS_DIR"

go_bin() {
  if command -v go >/dev/null; then command -v go
  elif [ -x /usr/local/go/bin/go ]; then echo /usr/local/go/bin/go
  else die "Go is needed to build kubeconform (https://go.dev/dl/)"
  fi
}

python_with_yaml() {
  if python3 -c 'import yaml' 2>/dev/null; then echo python3; return; fi
  local venv="$TOOLS_DIR/python-yaml"
  if [ ! -x "$venv/bin/python" ]; then
    say "installing PyYAML for the CRD schema conversion"
    python3 -m venv "$venv" >&2
    quietly "$venv/bin/pip" install -q --disable-pip-version-check pyyaml
  fi
  echo "$venv/bin/python"
}

# kubeconform and the module cache it was built from (its scripts/ converts CRDs).
KUBECONFORM="$TOOLS_DIR/kubeconform-$KUBECONFORM_VERSION/kubeconform"
if [ ! -x "$KUBECONFORM" ]; then
  say "building kubeconform $KUBECONFORM_VERSION (about 30 s)"
  quietly env GOBIN="$(dirname "$KUBECONFORM")" "$(go_bin)" install \
    "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
fi

module_dir() {
  "$(go_bin)" mod download -json "$1" |
    python3 -c 'import json, sys; d = json.load(sys.stdin); print(d.get("Dir") or sys.exit(d.get("Error", "no Dir")))'
}

SCHEMAS="$TOOLS_DIR/schemas-kv$KUBERNETES_VALIDATE_VERSION-keda$KEDA_VERSION-gw$GATEWAY_API_VERSION"
if [ ! -f "$SCHEMAS/.complete" ]; then
  say "fetching the Kubernetes, KEDA and Gateway API schemas"
  work=$(mktemp -d "$TOOLS_DIR/.schemas.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  # Kubernetes: the "local-strict" schemas that kubernetes-validate ships. They refer to
  # their shared definitions by an absolute URL; kubeconform loads files, so the
  # references become relative to the file (nothing else changes).
  quietly python3 -m pip download -q --disable-pip-version-check --no-deps \
    -d "$work/wheel" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
  for version in $K8S_SCHEMA_VERSIONS; do
    python3 - "$work/wheel"/kubernetes_validate-*.whl "v$version.0-local-strict" "$work/core-$version" <<'PY'
import json, os, sys, zipfile
wheel, folder, target = sys.argv[1:]
prefix = f'kubernetes_validate/kubernetes-json-schema/{folder}/'
os.makedirs(target)
with zipfile.ZipFile(wheel) as archive:
    names = [n for n in archive.namelist() if n.startswith(prefix) and n.endswith('.json')]
    if not names:
        sys.exit(f'{folder} is not in {wheel}')
    for name in names:
        schema = json.loads(archive.read(name))
        schema.pop('$id', None)
        text = json.dumps(schema).replace('"/api/_definitions.json#', '"_definitions.json#')
        with open(os.path.join(target, os.path.basename(name)), 'w') as out:
            out.write(text)
PY
  done
  # KEDA and the Gateway API: their CRDs, converted by kubeconform's own script, which
  # adds `additionalProperties: false` wherever the CRD lists the properties.
  keda=$(module_dir "github.com/kedacore/keda/v2@v$KEDA_VERSION")
  gateway_api=$(module_dir "sigs.k8s.io/gateway-api@v$GATEWAY_API_VERSION")
  converter=$(module_dir "github.com/yannh/kubeconform@$KUBECONFORM_VERSION")/scripts/openapi2jsonschema.py
  mkdir -p "$work/crds"
  (cd "$work/crds" && quietly env FILENAME_FORMAT='{kind}-{group}-{version}' \
    DENY_ROOT_ADDITIONAL_PROPERTIES=1 "$(python_with_yaml)" "$converter" \
    "$keda/config/crd/bases/keda.sh_scaledobjects.yaml" \
    "$keda/config/crd/bases/keda.sh_triggerauthentications.yaml" \
    "$gateway_api/config/crd/standard/gateway.networking.k8s.io_httproutes.yaml")
  rm -rf "$work/wheel"
  touch "$work/.complete"
  rm -rf "$SCHEMAS"
  mv "$work" "$SCHEMAS"
  trap - EXIT
fi

echo "KUBECONFORM=$KUBECONFORM"
for version in $K8S_SCHEMA_VERSIONS; do echo "K8S_SCHEMAS_$version=$SCHEMAS/core-$version"; done
echo "CRD_SCHEMAS=$SCHEMAS/crds"
