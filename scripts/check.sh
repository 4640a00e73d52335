#!/usr/bin/env bash
# Developer check: lint, format, types and docs (what .ci/run adds to the tests).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy src tests demo bench
.venv/bin/sphinx-build -W -n -q -b html docs "$(mktemp -d)/html"
