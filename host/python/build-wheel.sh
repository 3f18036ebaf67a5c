#!/usr/bin/env bash
# Builds the wheel of the Python package `mfa-reset`: the wrapper of this
# directory with the component inside.
#
#   bash host/python/build-wheel.sh [--component FILE] [--out DIR] [pip wheel options…]
#
# Without --component, the component the `mfa-reset` command embeds, in a
# release build (cargo). The wheel lands in --out (default: ./dist).
# PYTHON names the interpreter whose pip builds it (default: python3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
component=""
out="$PWD/dist"
while [ $# -gt 0 ]; do
  case "$1" in
    --component) component=$(realpath "$2"); shift 2 ;;
    --out) out=$(realpath -m "$2"); shift 2 ;;
    *) break ;;
  esac
done

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$here/pyproject.toml" "$here/README.md" "$here/../../LICENSE" "$stage/"
mkdir "$stage/mfa_reset"
cp "$here/mfa_reset/__init__.py" "$here/mfa_reset/py.typed" "$stage/mfa_reset/"
if [ -n "$component" ]; then
  cp "$component" "$stage/mfa_reset/mfa-reset.wasm"
else
  (cd "$here/../.." && cargo run -q --release -- component --out "$stage/mfa_reset/mfa-reset.wasm")
fi
mkdir -p "$out"
"${PYTHON:-python3}" -m pip wheel -q --no-deps --disable-pip-version-check -w "$out" "$@" "$stage"
ls "$out"/mfa_reset-*.whl
