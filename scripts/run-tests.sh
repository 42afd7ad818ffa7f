#!/bin/sh
# Runs the test files (node:test via tsx). Pass file paths to run a subset.
set -e
cd "$(dirname "$0")/.."
if [ "$#" -gt 0 ]; then files="$*"; else files=$(find test -name '*.test.ts' | sort); fi
exec node --import tsx --test --test-concurrency=2 --test-timeout=600000 $files
