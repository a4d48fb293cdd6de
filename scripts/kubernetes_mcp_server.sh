#!/usr/bin/env bash
# Ensure .bin/kubernetes-mcp-server (Red Hat's Kubernetes MCP server, a Go binary) exists, pinned (idempotent).
# Source: the npm package kubernetes-mcp-server-linux-amd64, whose bin/ holds the binary; the tarball's sha256 is
# checked. The tests that drive it (tests/third_party_mcp.py) skip, saying why, where it cannot be had: so this script
# only warns (exit 0) on another OS/architecture or without npm, and fails on a download or checksum error.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$ROOT/.bin"
VERSION="0.0.67"
PKG="kubernetes-mcp-server-linux-amd64@$VERSION"
SHA256="2093c97977159b477bbdf946977cd00905867146f83e5a84d183cfdca06cabcb"
TARGET="$BIN/kubernetes-mcp-server"

if [[ -x "$TARGET" ]] && "$TARGET" --version 2>/dev/null | grep -qx "v$VERSION"; then
  exit 0
fi
if [[ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]]; then
  echo "note: kubernetes-mcp-server is fetched for Linux x86_64 only; its tests will be skipped here" >&2
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "note: npm not found: kubernetes-mcp-server is not fetched and its tests will be skipped" >&2
  exit 0
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
trap 'echo "kubernetes_mcp_server.sh: failed at line $LINENO (see the message above)" >&2' ERR

# shellcheck source=scripts/npm_unpack.sh
source "$ROOT/scripts/npm_unpack.sh"
npm_unpack "$PKG" "$TMP" "$SHA256"
EXE="$TMP/package/bin/kubernetes-mcp-server-linux-amd64"
if [[ ! -f "$EXE" ]]; then
  echo "kubernetes_mcp_server.sh: $PKG has no bin/kubernetes-mcp-server-linux-amd64" >&2
  exit 1
fi
mkdir -p "$BIN"
cp "$EXE" "$TARGET.tmp" && chmod +x "$TARGET.tmp" && mv -f "$TARGET.tmp" "$TARGET"
echo "kubernetes-mcp-server: $("$TARGET" --version)"
