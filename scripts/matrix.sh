#!/usr/bin/env bash
# Runs the whole test suite on the versions pyproject.toml declares, each leg
# in its own virtual environment, .venv-LEG, that this script creates and
# installs from the package index (reinstalled when pyproject.toml or the
# leg's constraints change):
#
#   min        Python 3.10, every declared floor pinned (tests/constraints-min.txt)
#   scrapy217  Python 3.12, Scrapy 2.17 and zyte-api 0.7.0 with the newest
#              aiohttp (tests/constraints-scrapy217.txt)
#   newest     Python 3.13, the newest release of every dependency (upgraded
#              on every run)
#
# Usage: bash scripts/matrix.sh [LEG...]    (all legs by default)
# Each Python comes from pyenv (`pyenv versions`) or from pythonX.Y on PATH.
# Every leg runs, even after one fails; the exit status is 1 if any failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ALL_LEGS=(min scrapy217 newest)

# Prints the interpreter of Python $1 (e.g. 3.10): pyenv's newest 3.10.x, or
# python3.10 on PATH.
find_python() {
    local version=$1 root found=""
    if command -v pyenv >/dev/null && root=$(pyenv root 2>/dev/null); then
        found=$(printf '%s\n' "$root"/versions/"$version".*/bin/python \
            | sort -V | tail -n 1)
        [ -x "$found" ] || found=""
    fi
    if [ -z "$found" ]; then
        found=$(command -v "python$version" || true)
    fi
    if [ -z "$found" ]; then
        echo "matrix: Python $version not found (install it with pyenv)" >&2
        return 1
    fi
    echo "$found"
}

# Creates .venv-$1 with Python $2 and installs the project with its test
# extras, with $3 (if given) as pip constraints.
install_leg() {
    local leg=$1 python=$2 venv=.venv-$1 stamp
    shift 2
    stamp=$(cat pyproject.toml "$@" | sha256sum | cut -d" " -f1)
    if [ ! -x "$venv/bin/python" ]; then
        "$python" -m venv "$venv"
    fi
    if [ "$leg" != newest ] && [ "$(cat "$venv/.installed" 2>/dev/null)" = "$stamp" ]; then
        return
    fi
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    case $leg in
        newest)
            "$venv/bin/python" -m pip install --quiet --upgrade \
                --upgrade-strategy eager -e ".[test]" ;;
        *)
            "$venv/bin/python" -m pip install --quiet --upgrade \
                -c "$1" -e ".[test]" ;;
    esac
    echo "$stamp" >"$venv/.installed"
}

run_leg() {
    local leg=$1 version python constraints=()
    case $leg in
        min) version=3.10; constraints=(tests/constraints-min.txt) ;;
        scrapy217) version=3.12; constraints=(tests/constraints-scrapy217.txt) ;;
        newest) version=3.13 ;;
        *) echo "matrix: unknown leg $leg (legs: ${ALL_LEGS[*]})" >&2; return 2 ;;
    esac
    python=$(find_python "$version")
    install_leg "$leg" "$python" "${constraints[@]}"
    "./.venv-$leg/bin/python" -m pip list --format=freeze 2>/dev/null \
        | grep -iE '^(aiohttp|scrapy|scrapy-poet|scrapy-zyte-api|tenacity|twisted|url-matcher|web-poet|zyte-api)==' \
        | tr '\n' ' '
    echo
    # The cache provider is off: the legs would share .pytest_cache.
    "./.venv-$leg/bin/python" -m pytest -n 2 -p no:cacheprovider -q
}

legs=("$@")
[ ${#legs[@]} -gt 0 ] || legs=("${ALL_LEGS[@]}")
summary=()
status=0
for leg in "${legs[@]}"; do
    echo "=== matrix leg $leg ==="
    start=$SECONDS
    # A subshell outside any condition, so that set -e stops the leg at its
    # first failing command without stopping the other legs.
    set +e
    (set -e; run_leg "$leg")
    rc=$?
    set -e
    if [ $rc -eq 0 ]; then
        result=passed
    else
        result="FAILED (exit $rc)"
        status=1
    fi
    summary+=("$leg: $result in $((SECONDS - start)) s")
done
echo "=== matrix summary ==="
printf '%s\n' "${summary[@]}"
exit $status
