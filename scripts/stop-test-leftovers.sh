#!/bin/sh
# Stops the processes a test run left running: those whose environment carries
# CERTDESK_TEST_RUN=<mark> (scripts/run-tests.sh sets it for the run). Says which they were, since a
# leftover means a test did not stop what it started (or was stopped at its timeout). Linux /proc.
mark="CERTDESK_TEST_RUN=$1"
[ -n "$1" ] || { echo "usage: stop-test-leftovers.sh <mark>" >&2; exit 2; }

marked() {
  for e in /proc/[0-9]*/environ; do
    pid=${e#/proc/}
    pid=${pid%/environ}
    # unreadable (gone, or not ours) and zombies (empty environ) are skipped
    if { tr '\0' '\n' < "$e"; } 2>/dev/null | grep -qxF "$mark"; then echo "$pid"; fi
  done
}

left=$(marked)
[ -z "$left" ] && exit 0
echo "run-tests.sh: the tests left $(echo "$left" | wc -l) process(es) running; stopping them:" >&2
for pid in $left; do
  echo "  $pid $({ tr '\0' ' ' < "/proc/$pid/cmdline"; } 2>/dev/null | cut -c1-160)" >&2
  kill -TERM "$pid" 2>/dev/null || true
done
# what does not stop on SIGTERM within 5 s is killed
i=0
while [ $i -lt 10 ] && [ -n "$(marked)" ]; do
  sleep 0.5
  i=$((i + 1))
done
for pid in $(marked); do kill -KILL "$pid" 2>/dev/null || true; done
exit 0
