#!/usr/bin/env bash
# The test command (README and .ci/run): makes sure the machine has what the
# e2e tests need (Docker engine, registry, sshd, Compose v2, stand-in images),
# then runs every test file. Extra arguments go to vitest (e.g. a path).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "test: the e2e testbed starts sshd and dockerd, so run the tests as root (or run 'npm run test:unit' for unit tests only)" >&2
  exit 2
fi
bash .ci/install-system.sh >/tmp/fleetkeeper-install-system.log 2>&1 || {
  echo "test: installing system packages failed; see /tmp/fleetkeeper-install-system.log" >&2
  tail -20 /tmp/fleetkeeper-install-system.log >&2
  exit 1
}
[ -f dist/cli/main.js ] || npm run build
bash test/testbed/system.sh start

report=$(mktemp /tmp/fleetkeeper-vitest-XXXXXX.json)
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
# One closing line in the plain 'N passed, N failed' form, from vitest's own counts.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
' "$report" || true
rm -f "$report"
exit $status
