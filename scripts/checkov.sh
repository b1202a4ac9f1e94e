#!/usr/bin/env bash
# checkov over the repository's Terraform. checkov's pins clash with moto's, so it lives in its own
# virtualenv (.venv-checkov), created or refreshed here when missing or not the pinned version.
# Fails on any finding. Skips are inline `#checkov:skip=CKV_...: reason` beside each resource.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECKOV_VERSION="3.3.30"
PYTHON="${PYTHON:-python3}"
VENV=".venv-checkov"
STAMP="$VENV/.checkov-$CHECKOV_VERSION"

if [[ ! -f "$STAMP" || ! -x "$VENV/bin/checkov" ]]; then
  echo "checkov: installing checkov==$CHECKOV_VERSION into $VENV" >&2
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -qq --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install -qq --disable-pip-version-check "checkov==$CHECKOV_VERSION"
  touch "$STAMP"
fi

# --download-external-modules false: every module is local; nothing is fetched.
# BC_SKIP_MAPPING / no guide download: the machine may be offline.
export BC_SKIP_MAPPING=TRUE
# tests/e2e/foreign_echo is a deliberately bare third-party configuration (the local stack must
# serve any API, not only this module's): it is never deployed to AWS, so it is not scanned.
# checkov logs evaluation warnings about unresolvable expressions; findings are printed regardless.
export LOG_LEVEL=ERROR
export CKV_IGNORE_HIDDEN_DIRECTORIES=true
exec "$VENV/bin/checkov" \
  --directory . \
  --framework terraform \
  --skip-path .terraform \
  --skip-path build \
  --skip-path .venv \
  --skip-path .local \
  --skip-path .tf-offline \
  --skip-path tests/e2e/foreign_echo \
  --download-external-modules false \
  --skip-download \
  --compact \
  --quiet \
  "$@"
