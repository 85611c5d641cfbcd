#!/usr/bin/env bash
# The load generator against one relay on PostgreSQL reached through a delaying proxy (the
# `delay_proxy` example): a database on another machine, each round trip between relay and
# database costing DELAY_US microseconds each way on top of loopback. Usage, from the
# repository root:
#
#   cargo build --release -p sync-server --bin sync-server --example loadgen --example delay_proxy
#   sync-server/scripts/load-remote-db.sh TARGET/release DELAY_US [loadgen flags]
#   e.g. ... target/release 250 --devices 40 --team-size 20 --push 40 --syncs 10 --seconds 60
#
# PostgreSQL: a throwaway server of Debian's package (.ci/postgres) with fsync ON. Loopback only.
set -euo pipefail
bin=$1
delay=$2
shift 2
here="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=load-common.sh
source "$here/sync-server/scripts/load-common.sh"

pg="$(GROUNDWORK_PG_FSYNC=on "$here/.ci/postgres" "$work/pg")"
psql "$pg" -qc "CREATE DATABASE load" >/dev/null
port=$((20000 + RANDOM % 20000))
"$bin/examples/delay_proxy" "$port" "$work/pg/.s.PGSQL.5432" "$delay" >"$work/proxy.out" &
pids+=($!)
while ! grep -q forwarding "$work/proxy.out"; do
  kill -0 "${pids[-1]}" 2>/dev/null || { echo "the proxy did not start" >&2; exit 1; }
  sleep 0.1
done
db="host=127.0.0.1 port=$port user=postgres dbname=load"

start_relay --database-url "$db"
echo "== PostgreSQL through a proxy adding ${delay} µs each way, one relay"
"$bin/examples/loadgen" --url "$url" --database-url "$db" "$@"
echo "relay: $(grep -E '^(VmHWM|Threads)' /proc/"${pids[-1]}"/status | tr -s ' \t' ' ' | paste -sd ';')"
