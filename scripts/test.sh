#!/bin/sh
# The whole test command (README: `npm test`): static checks, build, then every test.
set -e
cd "$(dirname "$0")/.."
echo '== lint'; npx eslint .
echo '== format'; npx prettier --check .
echo '== typecheck'; npx tsc -p tsconfig.json --noEmit && npx tsc -p web/tsconfig.json --noEmit
echo '== build'; npm run --silent build
echo '== tests'; sh scripts/run-tests.sh "$@"
