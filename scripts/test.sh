#!/usr/bin/env bash
# The whole test suite against real PostgreSQL and Redis (see README "Run the tests").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh requirements-dev.txt
exec .venv/bin/python scripts/run_tests.py "$@"
