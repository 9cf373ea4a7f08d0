#!/bin/sh
# Runs once, when the Postgres volume is first initialised: a read-only role for Grafana
# that can SELECT every table and view heatmeter's migrations create, now and later.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v reader_password="$GRAFANA_DB_PASSWORD" <<'SQL'
CREATE ROLE grafana_reader LOGIN PASSWORD :'reader_password';
GRANT CONNECT ON DATABASE heatmeter TO grafana_reader;
GRANT USAGE ON SCHEMA public TO grafana_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE heatmeter IN SCHEMA public
    GRANT SELECT ON TABLES TO grafana_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE heatmeter IN SCHEMA public
    GRANT EXECUTE ON FUNCTIONS TO grafana_reader;
SQL
