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

# Every process the tests start inherits this mark. When node:test stops a test file at its
# timeout, the file's own children (servers, agents, browsers) are not stopped with it and keep
# running, holding ports and CPU through the rest of the run; they are found by the mark at the end.
CERTDESK_TEST_RUN="$$.$(date +%s%N)"
export CERTDESK_TEST_RUN
status=0
node --import tsx --test --test-concurrency=2 --test-timeout=600000 $files || status=$?

# The scan runs without the mark, so that it does not find itself.
env -u CERTDESK_TEST_RUN sh scripts/stop-test-leftovers.sh "$CERTDESK_TEST_RUN"
exit $status
