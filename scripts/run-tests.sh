#!/bin/sh
# Runs the test files (node:test via tsx). Pass file paths to run a subset.
# The tests start the built CLI (bin/certdesk.js on dist/) for `certdesk …` children, so dist/ must
# be current: it is built here when missing or older than a file in src/.
set -e
cd "$(dirname "$0")/.."
if [ ! -f dist/cli/main.js ] || [ -n "$(find src -type f -newer dist/cli/main.js | head -n 1)" ]; then
  echo "== dist/ is missing or older than src/: building it (npm run build)" >&2
  npm run --silent build || { echo "run-tests.sh: the build failed, so the CLI the tests start is not current" >&2; exit 1; }
fi
if [ "$#" -gt 0 ]; then files="$*"; else files=$(find test -name '*.test.ts' | sort); fi
exec node --import tsx --test --test-concurrency=2 --test-timeout=600000 $files
