#!/usr/bin/env bash
# Terraform checks of the module, its submodules and its examples:
#   fmt -check, init (-backend=false) + validate everywhere, terraform test, tflint when installed.
# Works online (real providers from the registry) and offline (scripts/tf-env.sh generates a CLI
# config with filesystem mirrors, including the offline stand-in of hashicorp/archive).
# Exits non-zero on the first failed stage; independent directories run in parallel.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd -P)"

# shellcheck source=scripts/tf-env.sh
source scripts/tf-env.sh

export TF_IN_AUTOMATION=1
export TF_INPUT=0
# One copy of each provider for every directory (the aws provider is ~700 MB): inits symlink it.
export TF_PLUGIN_CACHE_DIR="${TF_PLUGIN_CACHE_DIR:-$repo/build/terraform-plugin-cache}"
# The lock files are not committed (.gitignore): let a fresh lock file be filled from the cache.
export TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE=1
mkdir -p "$TF_PLUGIN_CACHE_DIR"

logs="$(mktemp -d "${TMPDIR:-/tmp}/terraform-checks.XXXXXX")"
trap 'rm -rf "$logs"' EXIT

started=$SECONDS
stage() { printf '\n== %s (%ss)\n' "$1" "$((SECONDS - started))"; }

# run_parallel NAME DIR... : runs "check_$NAME DIR" for every DIR at once; prints each log; fails
# if any failed.
run_parallel() {
  local name="$1" dir pid failed=0
  shift
  local -a pids=() dirs=()
  for dir in "$@"; do
    "check_$name" "$dir" >"$logs/$name.${dir//\//_}.log" 2>&1 &
    pids+=("$!")
    dirs+=("$dir")
  done
  local i
  for i in "${!pids[@]}"; do
    dir="${dirs[$i]}"
    if wait "${pids[$i]}"; then
      printf '  ok    %-28s %s\n' "$dir" "$name"
    else
      printf '  FAIL  %-28s %s\n' "$dir" "$name"
      sed 's/^/        /' "$logs/$name.${dir//\//_}.log"
      failed=1
    fi
  done
  return "$failed"
}

check_init() {
  terraform -chdir="$1" init -backend=false -input=false -no-color
}

check_validate() {
  terraform -chdir="$1" validate -no-color
}

check_test() {
  terraform -chdir="$1" test -no-color
}

dirs=(. modules/*)
# The examples commit .terraform.lock.hcl with the registry's hashes. Offline, the archive
# stand-in cannot match them, so the examples are checked as copies without the lock file, with
# the module source made absolute (the same files otherwise).
if [[ "${TF_OFFLINE:-0}" == "1" ]]; then
  for example in examples/*/; do
    example="${example%/}"
    copy="build/offline-$example"
    rm -rf "$copy"
    mkdir -p "$copy"
    for tf in "$example"/*.tf; do
      sed -E "s#(source[[:space:]]*=[[:space:]]*\")\.\./\.\.(\")#\1$repo\2#" "$tf" >"$copy/$(basename "$tf")"
    done
    dirs+=("$copy")
  done
else
  dirs+=(examples/*)
fi
test_dirs=()
for dir in "${dirs[@]}"; do
  if compgen -G "$dir/tests/*.tftest.hcl" >/dev/null; then
    test_dirs+=("$dir")
  fi
done

stage "terraform fmt -check -recursive"
terraform fmt -check -recursive -diff .

stage "terraform init"
# One after the other: the plugin cache is not safe for concurrent writers, and with the cache
# filled an init only links the providers (about a second each).
for dir in "${dirs[@]}"; do
  run_parallel init "$dir"
done

stage "terraform validate"
run_parallel validate "${dirs[@]}"

stage "terraform test (${test_dirs[*]})"
run_parallel test "${test_dirs[@]}"
for dir in "${test_dirs[@]}"; do
  grep -E '^(Success|Failure)!' "$logs/test.${dir//\//_}.log" | sed "s|^|  $dir: |"
done

stage "tflint"
if ! command -v tflint >/dev/null 2>&1; then
  echo "  tflint: SKIPPED: tflint is not installed (https://github.com/terraform-linters/tflint);"
  echo "  install it to lint with .tflint.hcl (aws ruleset, documented/typed variables, naming, ...)."
elif ! tflint --init --config "$repo/.tflint.hcl" >"$logs/tflint-init.log" 2>&1; then
  if [[ "${TF_OFFLINE:-0}" == "1" ]]; then
    echo "  tflint: SKIPPED: offline, its aws ruleset plugin could not be installed:"
    sed 's/^/    /' "$logs/tflint-init.log"
  else
    cat "$logs/tflint-init.log"
    exit 1
  fi
else
  tflint --config "$repo/.tflint.hcl" --recursive --format compact
  echo "  tflint: ok"
fi

stage "terraform checks passed"
