#!/usr/bin/env bash
# The whole test suite: the library (race detector on), then the nested
# modules (benchmarks compile and run once as tests, browser end-to-end).
set -euo pipefail
cd "$(dirname "$0")"
go vet ./...
go test -race ./...
for mod in bench e2e; do
  if [ -f "$mod/go.mod" ]; then
    (cd "$mod" && go vet ./... && go test -race ./...)
  fi
done
