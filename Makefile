.PHONY: run test lint format

run:  ## Run Skyflo on http://127.0.0.1:8000 (embedded mode unless DATABASE_URL/REDIS_URL are set)
	bash scripts/run.sh

test:  ## Run the whole test suite against real PostgreSQL and Redis
	bash scripts/test.sh

lint:
	.venv/bin/ruff format --check . && .venv/bin/ruff check .

format:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .
