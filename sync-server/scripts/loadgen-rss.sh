#!/bin/sh
# Runs the load generator against a relay in its own process and reports the relay's peak
# resident memory and thread count (Linux: /proc). Usage, from the repository root:
#
#   cargo build --release -p sync-server --bin sync-server --example loadgen
#   sync-server/scripts/loadgen-rss.sh target/release [loadgen flags, e.g. --devices 200 --seconds 10]
#
# The relay runs with its defaults except a high enrolment rate limit, since the load generator
# enrols every device from 127.0.0.1 at once.
set -eu
bin=$1
shift
data=$(mktemp -d)
out=$(mktemp)
"$bin/sync-server" serve --listen 127.0.0.1:0 --data-dir "$data/relay" --log warn \
    ${RELAY_FLAGS:-} > "$out" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$data" "$out"' EXIT
while ! grep -q listening "$out"; do
    kill -0 $pid 2>/dev/null || { echo "the relay did not start" >&2; exit 1; }
    sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$out")
peak_threads=0
( while kill -0 $pid 2>/dev/null; do
    t=$(sed -n 's/^Threads:[[:space:]]*//p' /proc/$pid/status 2>/dev/null || echo 0)
    echo "${t:-0}"
    sleep 0.5
  done ) > "$data/threads" &
sampler=$!
"$bin/examples/loadgen" --url "$url" --data-dir "$data/relay" "$@"
grep -E '^(VmHWM|VmRSS|Threads)' /proc/$pid/status
echo "peak threads (sampled every 0.5 s): $(sort -n "$data/threads" | tail -1)"
kill $sampler 2>/dev/null || true
