#!/usr/bin/env sh
# Run uv, installing it first (`python3 -m pip install uv`) where it is missing.
set -eu
if command -v uv >/dev/null 2>&1; then exec uv "$@"; fi
if ! python3 -m uv --version >/dev/null 2>&1; then
  echo "installing uv (python3 -m pip install uv)" >&2
  python3 -m pip install --quiet uv || python3 -m pip install --quiet --user uv
fi
exec python3 -m uv "$@"
