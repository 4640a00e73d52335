#!/usr/bin/env bash
# Runs the demo crawl against the bundled fake Zyte API (no API key, no internet).
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
exec .venv/bin/python -m demo.crawl "$@"
