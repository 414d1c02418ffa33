#!/usr/bin/env bash
# An S3 API for the object-store test (tests/test_object_store.py): moto's server, in its
# own virtual environment so its dependencies never meet Spark's or dbt's. A real
# deployment points SLATEHOUSE_WAREHOUSE_DIR at S3 or an S3-compatible store instead.
#
# Idempotent: does nothing when the pinned version is already there.
#   bash .ci/s3-server-venv.sh          # creates .cache/s3-server-venv
set -euo pipefail

MOTO_VERSION="${MOTO_VERSION:-5.2.5}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${S3_SERVER_VENV:-$ROOT/.cache/s3-server-venv}"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3

if [ -x "$VENV/bin/moto_server" ] \
   && [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null)" = "$MOTO_VERSION" ]; then
    echo "s3-server-venv: moto $MOTO_VERSION already in $VENV"
    exit 0
fi

echo "s3-server-venv: installing moto[server]==$MOTO_VERSION into $VENV"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "moto[server]==$MOTO_VERSION"
"$VENV/bin/moto_server" --help >/dev/null
echo "s3-server-venv: moto $MOTO_VERSION in $VENV"
