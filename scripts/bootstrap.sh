#!/usr/bin/env bash
# Creates .venv, installs the pinned requirements (again only when they changed) and provides kubectl and helm.
# Usage: scripts/bootstrap.sh [requirements-file]   (default: requirements-dev.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
reqs="${1:-requirements-dev.txt}"
python="${PYTHON:-python3}"

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Skyflo needs Python 3.11 or newer as \$PYTHON or python3 (found: $("$python" --version 2>&1 || echo none))." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$python" -m venv .venv
fi
name="$(basename "$reqs" .txt)"
stamp=".venv/.installed-$name-$(cat requirements.txt "$reqs" | sha256sum | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  echo "==> installing $reqs"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r "$reqs"
  rm -f ".venv/.installed-$name-"*
  touch "$stamp"
fi
bash scripts/k8s_tools.sh
# The third-party MCP server the tests drive (tests/third_party_mcp.py); only the dev setup needs it.
if [ "$reqs" = requirements-dev.txt ]; then
  bash scripts/kubernetes_mcp_server.sh
fi

# Headless Chromium for the browser tests (tests/browser/, driven by playwright; `playwright install` is not used).
if [ "$reqs" = requirements-dev.txt ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing chromium (browser tests)"
    apt-get update -qq && apt-get install -y -qq chromium
  else
    echo "note: the browser tests need /usr/bin/chromium; install it with: sudo apt-get install -y chromium" >&2
  fi
fi
