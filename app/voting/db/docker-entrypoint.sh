#!/bin/sh
# Entrypoint of the voting-db image (Debian's PostgreSQL).
#   voting-db-entrypoint postgres [postgres options]   initialise if needed, run postgres
#   voting-db-entrypoint <any other command>            run it as is
# Started as root: fixes the ownership of $PGDATA and re-executes itself as user postgres.
# First start (no $PGDATA/PG_VERSION): initdb with the superuser $POSTGRES_USER and the
# password from $POSTGRES_PASSWORD or the file $POSTGRES_PASSWORD_FILE; local (socket)
# connections trusted, network connections need the password (scram-sha-256);
# $POSTGRES_DB created if it is not "postgres". Then postgres runs in the foreground
# (exec: it is PID 1's replacement and gets the stop signal) listening on all addresses.
set -eu

PGDATA="${PGDATA:-/var/lib/postgresql/data}"
export PGDATA

if [ "${1:-postgres}" != "postgres" ]; then
    exec "$@"
fi
[ "$#" -gt 0 ] && shift

if [ "$(id -u)" = "0" ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    # a secret file may be readable by root only: read it before dropping privileges
    if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
        POSTGRES_PASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")"
        export POSTGRES_PASSWORD
        unset POSTGRES_PASSWORD_FILE
    fi
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" postgres "$@"
fi

if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    POSTGRES_PASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")"
fi
POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"

log() { echo "voting-db: $*" >&2; }

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        log "error: the database is not initialised and no password is set:"
        log "       set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE"
        exit 1
    fi
    log "initialising a new cluster in $PGDATA"
    pwfile="$(mktemp)"
    trap 'rm -f "$pwfile"' EXIT
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >&2
    rm -f "$pwfile"
    trap - EXIT
    {
        echo
        echo "# voting-db: password logins from the network"
        echo "host all all 0.0.0.0/0 scram-sha-256"
        echo "host all all ::/0 scram-sha-256"
    } >> "$PGDATA/pg_hba.conf"

    if [ "$POSTGRES_DB" != "postgres" ]; then
        sockdir="$(mktemp -d)"
        # socket-only server for the setup, so nobody connects before it is done
        pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -k $sockdir" start >&2
        # psql variables are not expanded in -c: feed the statement on stdin
        echo 'CREATE DATABASE :"db";' | psql -v ON_ERROR_STOP=1 -h "$sockdir" \
            -U "$POSTGRES_USER" -d postgres -q --set db="$POSTGRES_DB" >&2
        pg_ctl -D "$PGDATA" -m fast -w stop >&2
        rmdir "$sockdir"
    fi
    log "initialised (superuser $POSTGRES_USER, database $POSTGRES_DB)"
fi

unset POSTGRES_PASSWORD
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
