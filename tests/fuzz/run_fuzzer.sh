#!/usr/bin/env bash
# Runs a libFuzzer target: first over the committed corpus (every input must pass), then a
# short fuzzing session of SECONDS seconds writing new inputs to a scratch directory only.
# Usage: run_fuzzer.sh BINARY CORPUS_DIR SECONDS
set -euo pipefail
bin=$1 corpus=$2 seconds=$3
"$bin" -runs=0 "$corpus"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$bin" -max_total_time="$seconds" -seed=1 -rss_limit_mb=2048 -max_len=4096 \
  -print_final_stats=1 "$scratch" "$corpus"
