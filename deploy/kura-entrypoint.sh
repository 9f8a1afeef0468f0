#!/bin/sh
# The Kura image's entrypoint: hands libpq the database password from a file, then runs the command.
#
# PGPASSWORD_FILE names a file (a compose secret) whose first line is the password of the login role
# in KURA_DATABASE_URL, which itself holds no password. The password is copied into a private
# password file (mode 0600, PGPASSFILE) that libpq reads when it connects, so it is never in the
# environment (where `docker inspect`, /proc/*/environ and child processes would see it) nor in the
# URL (which error messages and logs may print). Without PGPASSWORD_FILE nothing changes.
set -eu

if [ -n "${PGPASSWORD_FILE:-}" ]; then
    if [ ! -r "$PGPASSWORD_FILE" ]; then
        echo "kura: cannot read the database password file $PGPASSWORD_FILE (PGPASSWORD_FILE)" >&2
        exit 1
    fi
    umask 077
    PGPASSFILE="$(mktemp "${TMPDIR:-/tmp}/kura-pgpass.XXXXXX")"
    # A .pgpass line matching any host, port, database and user; `\` and `:` are escaped as libpq reads them.
    password="$(head -n 1 "$PGPASSWORD_FILE" | tr -d '\r\n' | sed 's/[\\:]/\\&/g')"
    if [ -z "$password" ]; then
        echo "kura: the database password file $PGPASSWORD_FILE is empty (PGPASSWORD_FILE)" >&2
        exit 1
    fi
    printf '*:*:*:*:%s\n' "$password" > "$PGPASSFILE"
    unset password
    export PGPASSFILE
fi

exec "$@"
