#!/usr/bin/env bash
# A tool the tests talk to, in a virtual environment of its own, so its dependencies never
# meet Spark's or dbt's:
#   airflow    apache-airflow, to load docs/airflow/slatehouse_dag.py with Airflow's own
#              DagBag (tests/test_airflow_dag.py). A real deployment installs Airflow its
#              own way and only needs the DAG file and the `slatehouse` CLI.
#   s3-server  moto's S3 server, the S3 API of tests/test_object_store.py. A real deployment
#              points SLATEHOUSE_WAREHOUSE_DIR at S3 or an S3-compatible store instead.
#
# Idempotent: does nothing when the pinned version is already there.
#   bash .ci/tool-venv.sh airflow       # creates .cache/airflow-venv (a few minutes)
#   bash .ci/tool-venv.sh s3-server     # creates .cache/s3-server-venv
#   AIRFLOW_VENV=/opt/af bash .ci/tool-venv.sh airflow    (S3_SERVER_VENV likewise)
set -euo pipefail

case "${1:-}" in
    airflow)   DIST=apache-airflow; VERSION="${AIRFLOW_VERSION:-3.3.2}"; SPEC="apache-airflow==$VERSION"
               CHECK='import airflow'; VENV_VAR=AIRFLOW_VENV ;;
    s3-server) DIST=moto; VERSION="${MOTO_VERSION:-5.2.5}"; SPEC="moto[server]==$VERSION"
               CHECK='import moto.server'; VENV_VAR=S3_SERVER_VENV ;;
    *) echo "usage: bash .ci/tool-venv.sh airflow|s3-server" >&2; exit 2 ;;
esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${!VENV_VAR:-$ROOT/.cache/$1-venv}"   # the tests read the same variable
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
installed() { "$VENV/bin/python" -c "import importlib.metadata as m; print(m.version('$DIST'))" 2>/dev/null; }

if [ -x "$VENV/bin/python" ] && [ "$(installed)" = "$VERSION" ]; then
    echo "tool-venv: $DIST $VERSION already in $VENV"
    exit 0
fi

echo "tool-venv: installing $SPEC into $VENV"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "$SPEC"
"$VENV/bin/python" -c "$CHECK"
echo "tool-venv: $DIST $(installed) in $VENV"
