#!/usr/bin/env bash
# Run once by the postgres image (/docker-entrypoint-initdb.d) when it creates the cluster, as the
# superuser (POSTGRES_USER) on the local socket. Kura must never connect as that superuser, so this
# makes the login role Kura and its migrations use:
#
#   KURA_DB_OWNER (kura_owner): LOGIN, no SUPERUSER/CREATEDB/CREATEROLE/REPLICATION/BYPASSRLS; owns
#     the database (so, from PostgreSQL 15, its public schema) and, through the migrations, the
#     audit tables; a member of kura_app (SET and INHERIT) so it can hand kura_app the knowledge
#     tables and connect as it (KURA_DATABASE_RUN_AS).
#   kura_app: NOLOGIN, made here rather than by migration 0006 so the owner needs no CREATEROLE.
#   the vector extension: pgvector is not a trusted extension, so only a superuser may create it.
#
# The owner's password is read from the file KURA_DB_OWNER_PASSWORD_FILE (a compose secret) by psql
# itself: it is never on a command line or in the environment. The superuser may then log in only
# on the container's own socket (`docker compose exec postgres psql -U postgres`), never over TCP.
#
# A subshell, so `set -u` stays here even if the entrypoint sources this file instead of running it.
(
    set -euo pipefail
    owner="${KURA_DB_OWNER:-kura_owner}"
    password_file="${KURA_DB_OWNER_PASSWORD_FILE:-/run/secrets/kura_db_password}"
    if [ ! -r "$password_file" ] || [ -z "$(head -n 1 "$password_file" | tr -d '\r\n')" ]; then
        echo "10-kura-roles.sh: no Kura database password in $password_file (a compose secret; see README)" >&2
        exit 1
    fi

    psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
        -v owner="$owner" -v password_file="$password_file" -v db="$POSTGRES_DB" <<'SQL'
\set password `head -n 1 :'password_file' | tr -d '\r\n'`
CREATE ROLE :"owner" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'password';
\unset password
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kura_app') AS need_app \gset
\if :need_app
    CREATE ROLE kura_app NOLOGIN;
\endif
GRANT kura_app TO :"owner";
ALTER DATABASE :"db" OWNER TO :"owner";
CREATE EXTENSION IF NOT EXISTS vector;
SQL

    # The image appended `host all all all <method>`; the first matching line wins, so this goes first.
    # Rewritten in place, so the file keeps its owner and mode.
    hba="$PGDATA/pg_hba.conf"
    rules="$(cat "$hba")"
    printf '# Kura: the superuser logs in only on the local socket\nhost all %s all reject\n%s\n' \
        "$POSTGRES_USER" "$rules" > "$hba"
)
