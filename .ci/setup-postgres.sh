#!/usr/bin/env bash
# PostgreSQL for the shared Hive metastore: Debian's `postgresql` package, one cluster on
# 127.0.0.1, a metastore database and a login role that owns it. Idempotent: run it as
# often as you like (a second run only checks and starts what is down).
#
# Needs root (or sudo) on Debian/Ubuntu. Writes the connection settings to
# .cache/postgres/metastore.env (mode 600), which `source` turns into the SLATEHOUSE_*
# variables, and which tests/test_sqlserver.py reads:
#   bash .ci/setup-postgres.sh && set -a && . .cache/postgres/metastore.env && set +a
#
# Overridable: PGPORT (5432), METASTORE_DB (slatehouse_metastore), METASTORE_USER
# (slatehouse), SLATEHOUSE_METASTORE_JDBC_PASSWORD (otherwise generated once and kept).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PGPORT="${PGPORT:-5432}"
METASTORE_DB="${METASTORE_DB:-slatehouse_metastore}"
METASTORE_USER="${METASTORE_USER:-slatehouse}"
STATE_DIR="$ROOT/.cache/postgres"
ENV_FILE="$STATE_DIR/metastore.env"

say() { echo "setup-postgres: $*"; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { say "run as root (or install sudo): apt-get and the cluster need it"; exit 1; }
    SUDO="sudo"
fi

# 1. The package. Debian's `postgresql` pulls the current major version and the
#    postgresql-common cluster tools (pg_lsclusters, pg_createcluster, pg_ctlcluster).
if ! command -v pg_lsclusters >/dev/null || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    say "installing Debian package postgresql"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
PG_VERSION="$(ls /usr/lib/postgresql | sort -n | tail -1)"

# 2. A cluster. The package normally creates `main`; images that disable that (and
#    machines where it was dropped) get one here.
if ! pg_lsclusters -h | awk -v v="$PG_VERSION" '$1 == v && $2 == "main"' | grep -q .; then
    say "creating cluster $PG_VERSION/main on port $PGPORT"
    $SUDO pg_createcluster "$PG_VERSION" main --port "$PGPORT" >/dev/null
fi
CLUSTER_PORT="$(pg_lsclusters -h | awk -v v="$PG_VERSION" '$1 == v && $2 == "main" {print $3}')"
# Loopback only: the metastore holds the warehouse's catalogue, nothing outside needs it.
CONF_DIR="/etc/postgresql/$PG_VERSION/main"
if ! grep -q "^listen_addresses = '127.0.0.1'" "$CONF_DIR/postgresql.conf"; then
    echo "listen_addresses = '127.0.0.1'" | $SUDO tee -a "$CONF_DIR/postgresql.conf" >/dev/null
    if pg_lsclusters -h | awk -v v="$PG_VERSION" '$1 == v && $2 == "main" {print $4}' | grep -q online; then
        $SUDO pg_ctlcluster "$PG_VERSION" main restart
    fi
fi

# 3. Running. pg_ctlcluster works with or without systemd (containers, CI).
if ! pg_lsclusters -h | awk -v v="$PG_VERSION" '$1 == v && $2 == "main" {print $4}' | grep -q online; then
    say "starting cluster $PG_VERSION/main"
    $SUDO pg_ctlcluster "$PG_VERSION" main start
fi
for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p "$CLUSTER_PORT" && break
    sleep 1
done
pg_isready -h 127.0.0.1 -p "$CLUSTER_PORT" >/dev/null || { say "cluster did not accept connections on 127.0.0.1:$CLUSTER_PORT; see /var/log/postgresql/"; exit 1; }

# 4. Role and database. The password lives in the env file so reruns keep it.
mkdir -p "$STATE_DIR"
PASSWORD="${SLATEHOUSE_METASTORE_JDBC_PASSWORD:-}"
if [ -z "$PASSWORD" ] && [ -f "$ENV_FILE" ]; then
    PASSWORD="$(sed -n 's/^SLATEHOUSE_METASTORE_JDBC_PASSWORD=//p' "$ENV_FILE")"
fi
if [ -z "$PASSWORD" ]; then
    PASSWORD="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
fi
psql_admin() { $SUDO -u postgres psql -X -q -v ON_ERROR_STOP=1 -p "$CLUSTER_PORT" "$@"; }
if [ "$(id -u)" -eq 0 ]; then
    psql_admin() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$CLUSTER_PORT" "$@"; }
fi
# CREATEDB lets the test suite make and drop throwaway metastores of its own.
psql_admin -d postgres -v user="$METASTORE_USER" -v pw="$PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'user')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'user') \gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', :'user', :'pw') \gexec
SQL
psql_admin -d postgres -v db="$METASTORE_DB" -v user="$METASTORE_USER" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L TEMPLATE template0', :'db', :'user', 'UTF8')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SQL

umask 077
cat > "$ENV_FILE" <<ENV
SLATEHOUSE_METASTORE_JDBC_URL=jdbc:postgresql://127.0.0.1:$CLUSTER_PORT/$METASTORE_DB
SLATEHOUSE_METASTORE_JDBC_USER=$METASTORE_USER
SLATEHOUSE_METASTORE_JDBC_PASSWORD=$PASSWORD
ENV
say "PostgreSQL $PG_VERSION on 127.0.0.1:$CLUSTER_PORT, database $METASTORE_DB, role $METASTORE_USER; settings in $ENV_FILE"
