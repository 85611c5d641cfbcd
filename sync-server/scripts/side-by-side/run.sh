#!/usr/bin/env bash
# Groundwork's relay and automerge-repo's sync server side by side (issue 13): the end of a
# shift and a new device's first sync into a team of 10,000 people, on the same data, through
# the same byte-counting proxy on 127.0.0.1. Prints one Markdown table. See README.md here.
#
#   sync-server/scripts/side-by-side/run.sh [WORK_DIR]
#
# WORK_DIR (default: a new temporary directory, kept for inspection) holds every relay,
# server and device. Took 50 minutes on 2 shared cores. Environment:
#   CARGO_TARGET_DIR   where cargo builds (default: target in the repository)
#   SBS_TEAM_PEOPLE    people in the first-sync team (default 10000)
#   SBS_TIMEOUT        seconds a client may take before it reports what it holds (default 600)
#   SBS_DEVICES, SBS_PER_DEVICE   the end of a shift: devices and people each (default 20, 40)
#   SBS_ONLY           shift or first: one workload only
#   SBS_AM_WRITER_PEOPLE  people per automerge-repo device uploading the big team (default 1000)
#   SBS_AM_FIND_BATCH  documents a new automerge-repo device asks for at a time (default 0: all)
#   SBS_SKIP_BUILD=1   use the release binaries already built
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
root="$(cd "$here/../../.." && pwd -P)"

die() {
  echo "side-by-side: $*" >&2
  exit 1
}
note() { echo "side-by-side: $*" >&2; }

[ $# -le 1 ] || die "usage: run.sh [WORK_DIR]"
command -v node > /dev/null || die "node is missing (Node 20 or later)"
command -v npm > /dev/null || die "npm is missing"
command -v cargo > /dev/null || die "cargo is missing"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || die "Node 20 or later is needed, this is $(node --version)"
[ -r /proc/self/status ] || die "/proc is needed to read the servers' peak memory (Linux)"

work="${1:-}"
if [ -z "$work" ]; then
  work="$(mktemp -d -t groundwork-side-by-side.XXXXXX)"
fi
mkdir -p "$work"
work="$(cd "$work" && pwd -P)"

note "installing the automerge-repo packages (npm ci)"
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"

target="${CARGO_TARGET_DIR:-$root/target}"
if [ "${SBS_SKIP_BUILD:-}" != "1" ]; then
  note "building groundwork and sync-server (release)"
  (cd "$root" && cargo build --release --locked -p groundwork -p sync-server) || die "cargo build failed"
fi
for bin in groundwork sync-server; do
  [ -x "$target/release/$bin" ] || die "$target/release/$bin is missing (set CARGO_TARGET_DIR?)"
done

note "working in $work"
node "$here/bench.mjs" --bin "$target/release" --work "$work" --results "$work/results.json"
note "results: $work/results.json; servers' logs and devices in $work"
