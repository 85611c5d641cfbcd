# Shared by the load scripts (sourced, not run): a scratch directory `$work` removed on exit,
# with the relays started (their pids in `pids`) killed and a throwaway PostgreSQL in
# `$work/pg` stopped. Expects `here` (the repository root).
work=$(mktemp -d)
chmod 755 "$work" # the PostgreSQL server runs as the postgres user
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  GROUNDWORK_PG_FSYNC=on "$here/.ci/postgres" --stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
