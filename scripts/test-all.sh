#!/usr/bin/env bash
# `make test`: every check, with the Terraform checks and checkov (no local stack, mostly
# Terraform's own work) in the background while the Python suites run in the foreground. Their
# output is printed, whole, once they finish; any failure fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."

make_q() { make --no-print-directory "$@"; }

make_q lint || exit 1
make_q docs-check || exit 1

# Generate the offline Terraform configuration once, before two processes could race on it.
bash -c 'source scripts/tf-env.sh' || exit 1

mkdir -p build
background_log=build/test-background.log
(
  status=0
  make_q test-terraform || status=1
  make_q checkov || status=1
  exit "$status"
) >"$background_log" 2>&1 &
background=$!

foreground=0
make_q test-unit || foreground=1
if [[ "$foreground" == 0 ]]; then
  make_q test-e2e || foreground=1
fi

wait "$background"
background_status=$?
echo
echo "== terraform checks and checkov (ran alongside; log $background_log)"
cat "$background_log"

if [[ "$foreground" != 0 || "$background_status" != 0 ]]; then
  echo "make test: FAILED (python suites: $foreground, terraform/checkov: $background_status)" >&2
  exit 1
fi
echo "make test: every check passed"
