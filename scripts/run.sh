#!/usr/bin/env bash
# Runs Skyflo on http://127.0.0.1:8000. With no DATABASE_URL/REDIS_URL: embedded mode (SQLite, in-memory channel
# layer, runs in-process, a local tool server, and the simulated sandbox cluster when no kubeconfig is found).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh requirements.txt
export PATH="$PWD/.bin:$PATH"
exec .venv/bin/python -m skyflo.embedded "$@"
