#!/usr/bin/env bash
# Builds the npm package `mfa-reset` (a tarball, as `npm pack` makes it):
# the wrapper of this directory with the component inside, transpiled by jco.
#
#   bash host/node/build-package.sh [--component FILE] [--out DIR]
#
# Without --component, the component the `mfa-reset` command embeds, in a
# release build (cargo). JCO names the jco to run (default: the pinned one,
# through npx). The tarball lands in --out (default: ./dist).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
component=""
out="$PWD/dist"
while [ $# -gt 0 ]; do
  case "$1" in
    --component) component=$(realpath "$2"); shift 2 ;;
    --out) out=$(realpath -m "$2"); shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$here/package.json" "$here/index.js" "$here/index.d.ts" "$here/README.md" "$here/../../LICENSE" "$stage/"
if [ -z "$component" ]; then
  component="$stage/mfa-reset.wasm"
  (cd "$here/../.." && cargo run -q --release -- component --out "$component")
fi
# Our own imports replace the WASI shim (async instantiation): the package
# depends on nothing.
${JCO:-npx --yes @bytecodealliance/jco@1.35.0} transpile "$component" -o "$stage/component" \
  --instantiation async --name mfa-reset --quiet
rm -f "$stage/mfa-reset.wasm"
mkdir -p "$out"
(cd "$stage" && npm pack --silent --pack-destination "$out" >/dev/null)
ls "$out"/mfa-reset-*.tgz
