#!/usr/bin/env bash
# Runs the library's own benchmarks (root package) and the side-by-side
# benchmarks of this module against a private redis-server on a free
# loopback port, then prints a Markdown table of medians and ratios and
# saves it as RESULTS.md beside this script.
#
#   bench/run.sh              # -count 5
#   COUNT=10 bench/run.sh     # more runs
#   BENCH=Memory bench/run.sh # only matching benchmarks in bench/ (root: all)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
count="${COUNT:-5}"
filter="${BENCH:-.}"
raw="$(mktemp)"
redis_pid=""
cleanup() {
	if [[ -n "$redis_pid" ]]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
	rm -f "$raw"
}
trap cleanup EXIT

if command -v redis-server >/dev/null; then
	port=""
	for p in $(shuf -i 20000-60000 -n 50); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port="$p"; break; fi
	done
	[[ -n "$port" ]] || { echo "run.sh: no free loopback port" >&2; exit 1; }
	redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --protected-mode yes >/dev/null &
	redis_pid=$!
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
		sleep 0.05
	done
	export BENCH_REDIS_ADDR="127.0.0.1:$port"
	echo "run.sh: private redis-server at $BENCH_REDIS_ADDR" >&2
else
	echo "run.sh: redis-server not on PATH: Redis benchmarks will be skipped" >&2
fi

root_cmd="go test -run '^\$' -bench . -benchmem -count $count -timeout 60m ."
bench_cmd="go test -run '^\$' -bench '$filter' -benchmem -count $count -timeout 60m ."
(cd "$here/.." && eval "$root_cmd") | tee -a "$raw" >&2
(cd "$here" && eval "$bench_cmd") | tee -a "$raw" >&2
(cd "$here" && go run ./cmd/report -command "(cd \$repo && $root_cmd) ; (cd \$repo/bench && $bench_cmd)" <"$raw") | tee "$here/RESULTS.md"
