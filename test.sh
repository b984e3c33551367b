#!/usr/bin/env bash
# The whole test suite: every module of the repository under the race
# detector. Tests that need a real server or Chromium start them when the
# binaries are installed and skip otherwise (SESSION_TEST_REQUIRE_REAL=1
# turns those skips into failures).
set -euo pipefail
cd "$(dirname "$0")"

modules=(. bench e2e memcachedstore tokens dbsc otelsession sqlstore/drivertest migrate ginsession examples/frameworks)
for mod in "${modules[@]}"; do
	echo "== $mod"
	(cd "$mod" && go test -race ./...)
done
