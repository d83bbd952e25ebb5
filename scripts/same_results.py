#!/usr/bin/env python3
"""Checks that two run stores hold the same results: a speed change must
not move a number.

    scripts/same_results.py BINARY STORE_A STORE_B

`BINARY report STORE --format csv` must print the same bytes for both
stores, and every run's metrics.jsonl and summary.json must hold the same
values, written alike (numbers are compared as their text), except the
timings (wall_time, it_per_sec, the *_seconds, updated,
worker), which differ from one process to the next. Exits non-zero and
says where on the first difference.
"""

import json
import subprocess
import sys
from pathlib import Path

TIMINGS = {"wall_time", "it_per_sec", "updated", "worker"}


def untimed(value):
    """`value` without its timing fields, at any depth."""
    if isinstance(value, dict):
        return {
            k: untimed(v)
            for k, v in value.items()
            if k not in TIMINGS and not k.endswith("_seconds")
        }
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value


def runs(store):
    return {
        p.parent.relative_to(store): p.parent
        for p in Path(store).glob("*/*/config.json")
        if not p.parent.parent.name.startswith(".")
    }


def main():
    binary, a, b = sys.argv[1:4]
    report = [
        subprocess.run(
            [binary, "report", s, "--format", "csv"],
            check=True,
            capture_output=True,
        ).stdout
        for s in (a, b)
    ]
    if report[0] != report[1]:
        sys.exit("the report CSVs differ")
    runs_a, runs_b = runs(a), runs(b)
    if runs_a.keys() != runs_b.keys():
        sys.exit(f"the stores hold different runs: {sorted(runs_a.keys() ^ runs_b.keys())[:5]}")
    for run, dir_a in sorted(runs_a.items()):
        dir_b = runs_b[run]
        for name in ("metrics.jsonl", "summary.json"):
            text = [(d / name).read_text() for d in (dir_a, dir_b)]
            if name.endswith(".jsonl"):
                values = [[untimed(json.loads(l, parse_float=str)) for l in t.splitlines()] for t in text]
            else:
                values = [untimed(json.loads(t, parse_float=str)) for t in text]
            if values[0] != values[1]:
                sys.exit(f"{run}/{name} differs")
        for name in ("policy.json", "q.npy"):
            if (dir_a / name).read_bytes() != (dir_b / name).read_bytes():
                sys.exit(f"{run}/{name} differs")
    lines = report[0].count(b"\n")
    print(f"same results: report CSV ({lines} lines) and {len(runs_a)} runs' metrics, summaries, policies and Q tables")


if __name__ == "__main__":
    main()
