#!/usr/bin/env bash
# Measures two figures of the dashboard issue on this machine:
#   1. idle CPU: the dashboard open on finished runs, nothing changing, for
#      10 s, from /proc/<pid>/stat (utime + stime);
#   2. training throughput with the dashboard open vs headless `pessimist run`
#      on the same spec (the runs' own train_seconds, so I/O and start-up do
#      not count).
# Needs tmux. Usage: scripts/measure_dashboard.sh [path/to/pessimist]
set -euo pipefail
bin="$(realpath "${1:-target/release/pessimist}")"
work="$(mktemp -d)"
trap 'tmux kill-session -t pessimist-measure 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/experiments"
cat > "$work/experiments/load.toml" <<'TOML'
name = "load"
env = "FrozenLake8x8-v1"
gamma = 0.99
seeds = [0, 1]
iterations = 1500
eval_every = 50
dataset = { policy = "medium", size = 1_000_000 }
[[algo]]
name = "fqi"
variant = "sample"
TOML

train_seconds() { # total train_seconds of every run under $1
    python3 - "$1" <<'PY'
import json, pathlib, sys
print(sum(json.loads(p.read_text())["train_seconds"] for p in pathlib.Path(sys.argv[1]).rglob("summary.json")))
PY
}

echo "== headless"
"$bin" run "$work/experiments/load.toml" --runs "$work/headless" --jobs 2 >/dev/null 2>&1
headless=$(train_seconds "$work/headless")

echo "== dashboard (tmux, 120x40)"
tmux new-session -d -s pessimist-measure -x 120 -y 40 "cd $work && $bin tui experiments --jobs 2"
until [ "$(find "$work/runs" -name summary.json -exec grep -l '"done"' {} + 2>/dev/null | wc -l)" = 2 ]; do sleep 0.5; done
dashboard=$(train_seconds "$work/runs")

pid=$(pgrep -f "$bin tui experiments" | head -1)
sleep 2
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
before=$(ticks); sleep 10; after=$(ticks)
python3 - "$headless" "$dashboard" "$before" "$after" "$hz" <<'PY'
import sys
headless, dashboard, before, after, hz = map(float, sys.argv[1:])
print(f"training: headless {headless:.3f} s, with dashboard {dashboard:.3f} s of train time "
      f"-> throughput {100 * headless / dashboard:.1f}% of headless")
print(f"idle CPU over 10 s: {100 * (after - before) / hz / 10:.2f}% of one core")
PY
tmux send-keys -t pessimist-measure q
