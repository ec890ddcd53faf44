#!/usr/bin/env bash
# A throwaway PostgreSQL for tests and benchmarks: Debian's `postgresql` package (installed with
# apt-get when missing), a fresh cluster in a temporary directory, listening on 127.0.0.1 only.
#
#   scripts/pg-test-server.sh install          install the server binaries if missing (make test runs this)
#   scripts/pg-test-server.sh start [--fast]   init + start; prints PGURL=… and PGDATA=… lines
#                                              --fast: fsync=off (tests that do not measure durability)
#   scripts/pg-test-server.sh stop PGDATA      stop it and delete its directory
#
# initdb refuses to run as root, so as root the cluster belongs to the `postgres` user (created by
# the package) and every server command runs through runuser.
set -euo pipefail

log() { echo "pg-test-server: $*" >&2; }

find_bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [[ -n "$dir" && -x "$dir/initdb" ]]; then echo "$dir"; return 0; fi
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then dirname "$(command -v initdb)"; return 0; fi
  return 1
}

install_server() {
  if find_bindir >/dev/null; then return 0; fi
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    log "PostgreSQL server binaries not found and cannot apt-get install them here;"
    log "install PostgreSQL (Debian/Ubuntu: apt-get install postgresql) or put initdb and pg_ctl on PATH"
    exit 1
  fi
  log "installing Debian's postgresql package (once)"
  # Keep the package from creating and starting its own cluster: tests make their own.
  mkdir -p /etc/postgresql-common
  if [[ ! -f /etc/postgresql-common/createcluster.conf ]] || ! grep -q '^create_main_cluster *= *false' /etc/postgresql-common/createcluster.conf; then
    echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  # confold: keep the createcluster.conf written above instead of asking (no terminal in CI).
  apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold postgresql >&2
  find_bindir >/dev/null || { log "postgresql installed but initdb not found"; exit 1; }
}

# Run a command as the cluster owner: ourselves, or `postgres` when we are root.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

start_server() {
  local fast=0
  [[ "${1:-}" == "--fast" ]] && fast=1
  install_server
  local bindir datadir port attempt
  bindir=$(find_bindir)
  datadir=$(mktemp -d "${TMPDIR:-/tmp}/warden-pg.XXXXXX")
  chmod 700 "$datadir"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$datadir"
  as_owner "$bindir/initdb" -D "$datadir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$datadir/initdb.log" 2>&1 \
    || { cat "$datadir/initdb.log" >&2; exit 1; }
  local opts="-c listen_addresses=127.0.0.1 -c unix_socket_directories=$datadir -c max_connections=50 -c shared_buffers=32MB"
  [[ $fast -eq 1 ]] && opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  for attempt in 1 2 3; do
    port=$(free_port)
    if as_owner "$bindir/pg_ctl" -D "$datadir/data" -l "$datadir/server.log" -w -t 60 -o "-p $port $opts" start >/dev/null 2>&1; then
      echo "PGURL=postgres://postgres@127.0.0.1:$port/postgres"
      echo "PGDATA=$datadir"
      return 0
    fi
    log "start on port $port failed (attempt $attempt)"
  done
  cat "$datadir/server.log" >&2 || true
  exit 1
}

stop_server() {
  local datadir=${1:?usage: pg-test-server.sh stop PGDATA}
  [[ "$datadir" == */warden-pg.* ]] || { log "refusing to stop/delete $datadir: not made by this script"; exit 1; }
  local bindir
  bindir=$(find_bindir)
  if [[ -f "$datadir/data/postmaster.pid" ]]; then
    as_owner "$bindir/pg_ctl" -D "$datadir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$datadir"
}

case "${1:-}" in
  install) install_server ;;
  start) shift; start_server "$@" ;;
  stop) shift; stop_server "$@" ;;
  *) echo "usage: $0 install | start [--fast] | stop PGDATA" >&2; exit 2 ;;
esac
