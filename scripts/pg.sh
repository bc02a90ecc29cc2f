# Sourced by test.sh: starts a private PostgreSQL on a free port in a temporary directory and
# exports FLOWYARD_TEST_PG_URL. The cluster is stopped and removed when the shell exits.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$pg_bin" ]; then
  echo "PostgreSQL is not installed: tests marked 'postgres' will be skipped" >&2
  return 0 2>/dev/null || exit 0
fi
pg_dir=$(mktemp -d /tmp/flowyard-pg.XXXXXX)
pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$pg_dir"
  as_pg=(runuser -u postgres --)
fi
"${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U flowyard --auth=trust >/dev/null
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
  -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start >/dev/null
export FLOWYARD_TEST_PG_URL="postgresql://flowyard@127.0.0.1:$pg_port/postgres"
trap '"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1; rm -rf "$pg_dir"' EXIT
