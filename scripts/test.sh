#!/usr/bin/env bash
# Runs the whole test suite (real crawls against local test servers).
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
exec .venv/bin/python -m pytest -n 2 "$@"
