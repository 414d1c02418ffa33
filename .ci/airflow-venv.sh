#!/usr/bin/env bash
# Airflow in its own virtual environment, so it never shares dependencies with dbt or Spark.
# Used to load jobs/orchestration/airflow_dag.py in tests/test_airflow_dag.py; a real
# deployment installs Airflow its own way and only needs the DAG file and the `slatehouse` CLI.
#
# Idempotent: does nothing when the pinned version is already there.
#   bash .ci/airflow-venv.sh            # creates .cache/airflow-venv
#   AIRFLOW_VENV=/opt/af bash .ci/airflow-venv.sh
set -euo pipefail

AIRFLOW_VERSION="${AIRFLOW_VERSION:-3.3.2}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${AIRFLOW_VENV:-$ROOT/.cache/airflow-venv}"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3

if [ -x "$VENV/bin/python" ] \
   && [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("apache-airflow"))' 2>/dev/null)" = "$AIRFLOW_VERSION" ]; then
    echo "airflow-venv: apache-airflow $AIRFLOW_VERSION already in $VENV"
    exit 0
fi

echo "airflow-venv: installing apache-airflow==$AIRFLOW_VERSION into $VENV (takes a few minutes)"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "apache-airflow==$AIRFLOW_VERSION"
"$VENV/bin/python" -c 'import airflow, sys; print("airflow-venv: apache-airflow", airflow.__version__, "on Python", sys.version.split()[0])'
