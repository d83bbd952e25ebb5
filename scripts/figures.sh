#!/usr/bin/env bash
# Regenerates every figure in the README and docs/ from the bundled specs: trains
# their runs (once; finished runs are reused) into a store, then draws each
# figure with one `pessimist plot` line. About 90 s of CPU on two cores
# (why_offline_rl_is_hard 2 s, why_offline_rl_is_hard_linear 65 s,
# why_offline_rl_is_hard_mountaincar 10 s, atac_beta 12 s).
#
# Usage: scripts/figures.sh [path/to/pessimist]   (default: the release build)
# RUNS=DIR sets the store (default: target/figures-runs).
# tests/it/figures.rs runs the plot lines below on a small store: keep each
# on one line, starting with "$pessimist" plot "$RUNS".
set -euo pipefail
cd "$(dirname "$0")/.."
pessimist="${1:-target/release/pessimist}"
RUNS="${RUNS:-target/figures-runs}"
[ -x "$pessimist" ] || cargo build --release
"$pessimist" run experiments/why_offline_rl_is_hard.toml experiments/why_offline_rl_is_hard_linear.toml \
    experiments/why_offline_rl_is_hard_mountaincar.toml experiments/atac_beta.toml --runs "$RUNS" > /dev/null

"$pessimist" plot "$RUNS" --spec why-offline-rl-is-hard --algo fqi --layout bear --out assets/why_offline_rl_is_hard.svg
"$pessimist" plot "$RUNS" --spec why-offline-rl-is-hard-linear --layout bear --band minmax --out assets/why_offline_rl_is_hard_linear.svg
"$pessimist" plot "$RUNS" --spec why-offline-rl-is-hard-mountaincar --algo fqi --layout bear --band minmax --out assets/why_offline_rl_is_hard_mountaincar.svg
"$pessimist" plot "$RUNS" --spec atac_beta --x beta --out assets/atac_beta.svg
