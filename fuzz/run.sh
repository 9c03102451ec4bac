#!/usr/bin/env bash
# Builds every fuzz target once and runs each for a bounded time from its seeds and its
# reproducers; fails if any target crashes, hangs or runs out of memory, and prints each
# reproducer (its path, and base64 so that a CI log keeps it).
#
#   fuzz/run.sh                  # every target, 20 s each
#   fuzz/run.sh 300 auth_scope   # one target, 5 minutes
#
# Needs cargo-fuzz (`cargo install --locked cargo-fuzz`); runs on the stable toolchain with
# RUSTC_BOOTSTRAP=1. Built without a sanitizer: see fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
seconds="${1:-20}"
shift || true
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

# Where each target's reproducers live: beside the parser, in the crate that owns it, so the
# crate's own tests replay them in plain `cargo test`.
regressions() {
  case "$1" in
    events_*) echo ../harbor-events/tests/fixtures/fuzz-regressions/"$1" ;;
    auth_*) echo ../harbor-auth/tests/fixtures/fuzz-regressions/"$1" ;;
    registry_* | client_*) echo ../harbor-client/tests/fixtures/fuzz-regressions/"$1" ;;
    *) echo "fuzz/run.sh: which crate owns $1?" >&2; exit 2 ;;
  esac
}

# cargo fuzz has no --locked: check that fuzz/Cargo.lock is up to date first.
cargo metadata --locked --format-version 1 >/dev/null
flags=(--sanitizer none)
cargo fuzz build "${flags[@]}"

logs=$(mktemp -d)
failed=()
for t in "${targets[@]}"; do
  seeds="seeds/$t"
  [ -d "$seeds" ] || { echo "fuzz/run.sh: $t has no seeds in fuzz/$seeds" >&2; exit 2; }
  mkdir -p "corpus/$t" "artifacts/$t"
  dirs=("corpus/$t" "$seeds")
  reg=$(regressions "$t")
  [ -d "$reg" ] && dirs+=("$reg")
  log="$logs/$t.log"
  marker="$logs/$t.started"  # only artifacts newer than this are this run's
  touch "$marker"
  # -timeout: one input may take 10 s at most (a hang is a failure); -rss_limit_mb: 2 GiB.
  if cargo fuzz run "${flags[@]}" "$t" "${dirs[@]}" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    printf '%-24s ok   %10s runs in %ss\n' "$t" "${runs:-?}" "$seconds"
  else
    printf '%-24s FAILED\n' "$t"
    tail -n 40 "$log"
    for f in "artifacts/$t"/crash-* "artifacts/$t"/timeout-* "artifacts/$t"/oom-* "artifacts/$t"/leak-*; do
      [ -f "$f" ] && [ "$f" -nt "$marker" ] || continue
      echo "reproducer fuzz/$f; keep it as $reg/$(basename "$f") and replay it in a test:"
      base64 -w 0 "$f"; echo
    done
    failed+=("$t")
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz/run.sh: ${failed[*]} failed" >&2
  exit 1
fi
