#!/usr/bin/env bash
# The evening rush on loopback: the load generator's devices against relays in their own
# processes, on SQLite and on PostgreSQL with one and with two relay processes, reporting for
# each run the load generator's figures and each relay's peak resident memory and threads.
# Usage, from the repository root:
#
#   cargo build --release -p sync-server --bin sync-server --example loadgen
#   sync-server/scripts/load-evening.sh TARGET/release [loadgen flags]
#   e.g. ... --devices 1000 --team-size 10 --syncs 20 --seconds 120
#
# PostgreSQL: a throwaway server of Debian's package (.ci/postgres) with fsync ON, so that its
# commits are as durable as the SQLite relay's (synchronous = FULL). Runs only on 127.0.0.1.
set -euo pipefail
bin=$1
shift
here="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=load-common.sh
source "$here/sync-server/scripts/load-common.sh"

# A thousand devices keep a thousand connections open: room for them in the relays (and in the
# load generator, which inherits the limit).
if [ "$(ulimit -n)" -lt 8192 ]; then
  ulimit -n 8192 2>/dev/null || echo "could not raise the open-file limit ($(ulimit -n))" >&2
fi

# Samples the threads of the relays started so far until they stop.
report_relays() {
  for p in "${pids[@]}"; do
    echo "relay $p: $(grep -E '^(VmHWM|Threads)' /proc/"$p"/status | tr -s ' \t' ' ' | paste -sd ';')"
  done
}

stop_relays() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pids=()
}

echo "== SQLite, one relay"
start_relay --data-dir "$work/sqlite"
"$bin/examples/loadgen" --url "$url" --data-dir "$work/sqlite" "$@"
report_relays
stop_relays

pg="$(GROUNDWORK_PG_FSYNC=on "$here/.ci/postgres" "$work/pg")"
base="${pg% dbname=postgres}"
psql "$pg" -qc "CREATE DATABASE one" -c "CREATE DATABASE two" >/dev/null

echo "== PostgreSQL, one relay"
start_relay --database-url "$base dbname=one"
"$bin/examples/loadgen" --url "$url" --database-url "$base dbname=one" "$@"
report_relays
stop_relays

echo "== PostgreSQL, two relays on one database"
start_relay --database-url "$base dbname=two"
first=$url
start_relay --database-url "$base dbname=two"
"$bin/examples/loadgen" --url "$first" --url "$url" --database-url "$base dbname=two" "$@"
report_relays
stop_relays
