#!/bin/sh
# The suite under load: runs `make test` (or `deno task test` where make is
# missing) while busy loops occupy the cores, and reports pass or fail and
# the time, once per run.
#
#   tools/stress-test.sh            # one run, two busy loops
#   tools/stress-test.sh 3          # three runs in a row
#   HOGS=4 tools/stress-test.sh     # four busy loops
#
# Exit 0 when every run passed. The busy loops are this script's own
# children and are stopped (by pid) however it ends.
set -u
cd "$(dirname "$0")/.."
runs=${1:-1}
hogs=${HOGS:-2}
pids=""
stop_hogs() {
  for pid in $pids; do kill "$pid" 2>/dev/null; done
  pids=""
}
trap stop_hogs EXIT
trap 'stop_hogs; exit 130' INT
trap 'stop_hogs; exit 143' TERM

if command -v make >/dev/null 2>&1; then suite="make test"; else suite="tools/deno task -q test"; fi
log=$(mktemp)
failed=0
i=1
while [ "$i" -le "$runs" ]; do
  n=0
  while [ "$n" -lt "$hogs" ]; do
    sh -c 'while :; do :; done' &
    pids="$pids $!"
    n=$((n + 1))
  done
  started=$(date +%s)
  if NO_COLOR=1 $suite >"$log" 2>&1; then result=PASS; else result=FAIL; failed=$((failed + 1)); fi
  took=$(($(date +%s) - started))
  stop_hogs
  summary=$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$log" | tail -n 1)
  echo "stress-test run $i/$runs: $result in ${took} s with $hogs busy loops ($(nproc 2>/dev/null || echo '?') cores): ${summary:-no test summary}"
  if [ "$result" = FAIL ]; then
    grep -E '^\S.* => .* \.\.\. FAILED|^error: ' "$log" | head -n 20
  fi
  i=$((i + 1))
done
rm -f "$log"
[ "$failed" -eq 0 ]
