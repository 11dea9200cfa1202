# Finds a PostgreSQL server for the tests, or starts a throwaway cluster.
# Sets TEST_POSTGRES_URL. Sourced by .ci/test.

pg_answers() {
  local url="$1"
  if command -v psql >/dev/null; then
    psql "$url" -qAtc 'SELECT 1' >/dev/null 2>&1
  else
    # Without a client, an open port on the default address will do.
    (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
  fi
}

ensure_postgres() {
  if [ -n "${TEST_POSTGRES_URL:-}" ]; then return; fi
  local default="postgres://postgres@127.0.0.1:5432/postgres"
  if [ -z "${TEST_OWN_POSTGRES:-}" ] && pg_answers "$default"; then
    export TEST_POSTGRES_URL="$default"
    return
  fi
  start_own_postgres
}

# initdb/pg_ctl from Debian's postgresql package into a temporary directory,
# on a free port, as the unprivileged `postgres` user (PostgreSQL refuses
# root); stopped and removed when the test command exits.
start_own_postgres() {
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    say "installing PostgreSQL from Debian"
    apt_install postgresql
    bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
  fi
  local user="postgres"
  id "$user" >/dev/null 2>&1 || as_root useradd --system --no-create-home "$user"
  PG_TMP="$(mktemp -d /tmp/tracker-pg.XXXXXX)"
  local port=55432
  while (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do port=$((port + 1)); done
  as_root chown "$user" "$PG_TMP"
  local run=(as_root runuser -u "$user" --)
  [ "$(id -u)" != 0 ] && [ "$(id -un)" != "$user" ] && run=(sudo -u "$user")
  say "starting a throwaway PostgreSQL on port $port ($PG_TMP)"
  "${run[@]}" "$bin/initdb" -D "$PG_TMP/data" -U postgres -A trust >/dev/null
  "${run[@]}" "$bin/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/log" -w \
    -o "-p $port -k $PG_TMP -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
  PG_STOP=("${run[@]}" "$bin/pg_ctl" -D "$PG_TMP/data" -m fast stop)
  trap 'echo "stopping the throwaway PostgreSQL"; "${PG_STOP[@]}" >/dev/null 2>&1 || true; as_root rm -rf "$PG_TMP"' EXIT
  export TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
}
