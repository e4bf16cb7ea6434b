#!/usr/bin/env bash
# Runs every benchmark in sequence on the bench workspace; JSON + logs land in bench/.
# Usage: bench/run_all.sh WORKSPACE [NAME ...]   (default: all, in the order below)
set -u
cd "$(dirname "$0")/.."
WS=${1:?workspace}; shift
MODEL=(--params bench/params.yaml)
NAMES=("${@:-consistency linearity transfer speed projection memory}")
for name in ${NAMES[@]}; do
  case $name in
    consistency) extra=(--images 300 --examples 5 --attributes hue,size,rotation) ;;
    linearity) extra=(--images 300 --examples 5 --attributes hue,size,rotation) ;;
    transfer) extra=(--images 6 --examples 1) ;;
    projection) extra=(--images 32 --fmnist-gan-steps 150 --fmnist-encoder-steps 75) ;;
    memory) extra=(--sizes 10000,100000) ;;
    *) extra=() ;;
  esac
  start=$(date -u +%FT%TZ)
  .venv/bin/python -m oneedit.bench "$name" --out "bench/$name.json" --workspace "$WS" "${MODEL[@]}" "${extra[@]}" \
    > "bench/$name.log" 2>&1
  echo "$name rc=$? $start -> $(date -u +%FT%TZ)" >> bench/runs.log
done
