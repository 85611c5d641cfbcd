#!/usr/bin/env bash
# Desktop smoke test: the real desktop window under Xvfb, testing itself
# (GROUNDWORK_SELF_TEST=1: add a person through the UI, check the store, exit 0/1).
# Usage: tests/ui/desktop-smoke.sh [SCREENSHOT.png]. Prints `N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/../.."
bin="${GROUNDWORK_BIN:-${CARGO_TARGET_DIR:-target}/debug/groundwork}"
shot="${1:-}"
work="$(mktemp -d)"
display=":$((100 + RANDOM % 400))"
Xvfb "$display" -screen 0 480x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
cleanup() { kill "$xvfb" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
sleep 1
GROUNDWORK_SELF_TEST=1 DISPLAY="$display" "$bin" --data-dir "$work/notebook" >"$work/out" 2>&1 &
app=$!
if [ -n "$shot" ]; then
  # Catch the window as the self-test ends (back on the people list).
  for _ in $(seq 1 200); do
    grep -q "self-test passed" "$work/out" && break
    kill -0 "$app" 2>/dev/null || break
    sleep 0.05
  done
  DISPLAY="$display" import -window root "$shot" 2>/dev/null || true
fi
wait "$app"
status=$?
cat "$work/out" | grep -v "^$" | tail -5
if [ "$status" -eq 0 ] && grep -q "self-test passed" "$work/out"; then
  echo "ok   desktop window under Xvfb"
  echo "1 passed, 0 failed"
else
  echo "FAIL desktop window under Xvfb (exit $status)"
  echo "0 passed, 1 failed"
  exit 1
fi
