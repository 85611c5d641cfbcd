# Shared by the load scripts (sourced, not run): a scratch directory `$work` removed on exit,
# with the relays started (their pids in `pids`) killed and a throwaway PostgreSQL in
# `$work/pg` stopped; `start_relay`. Expects `here` (the repository root) and `bin` (the
# directory of the built `sync-server`).
work=$(mktemp -d)
chmod 755 "$work" # the PostgreSQL server runs as the postgres user
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  GROUNDWORK_PG_FSYNC=on "$here/.ci/postgres" --stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Every relay's serve flags: the load generator enrols and connects far beyond the defaults.
# shellcheck disable=SC2206 # RELAY_FLAGS: extra serve flags, split on spaces
flags=(--enrol-burst 1000000 --enrol-per-minute 1000000 --max-connections 4096 ${RELAY_FLAGS:-})

# Starts a relay with "$@" (its store flags); sets $url and appends its pid.
start_relay() {
  local out="$work/relay-${#pids[@]}.out"
  : >"$out"
  "$bin/sync-server" serve --listen 127.0.0.1:0 --log warn "${flags[@]}" "$@" >"$out" &
  pids+=($!)
  while ! grep -q listening "$out"; do
    kill -0 "${pids[-1]}" 2>/dev/null || { echo "a relay did not start" >&2; exit 1; }
    sleep 0.1
  done
  url=$(sed -n 's/^listening on //p' "$out")
}
