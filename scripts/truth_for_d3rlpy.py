#!/usr/bin/env python3
"""Exact truth for a d3rlpy learner: how far its Q is from what its policy gets.

End to end, on one of pessimist's environments:

1. `pessimist data collect` writes a dataset (.npz, or .csv by its name);
2. d3rlpy's DiscreteCQL learns from it, through an MDPDataset whose
   observations are one-hot states;
3. its Q for every (state, action) is written to q.npy (float32, as the
   network computes it; pessimist widens it exactly);
4. `pessimist eval --q q.npy --greedy --json` compares the estimate with the
   exact return of the greedy policy, and this script prints the gap.

    pip install d3rlpy            # torch, gymnasium; written against d3rlpy 2.8
    python3 scripts/truth_for_d3rlpy.py --workdir /tmp/truth
    python3 scripts/truth_for_d3rlpy.py --env FrozenLake8x8-v1 --steps 50000 --alpha 4

Needs `pessimist` on the PATH (or `--pessimist target/release/pessimist`).
Not run in CI, which has no torch.

The conversion keeps every transition: d3rlpy reads episodes as sequences of
observations, the next observation being the next row's, and a sequence not
ended by `terminated` loses its last transition (it has no next observation).
So every such end (a Gymnasium time limit, the dataset's cut) gets one extra
row holding the next state, marked as a timeout; its action and reward are
never used as a transition. A terminated transition has no successor (d3rlpy
bootstraps from nothing, as pessimist's V = 0 after termination).

q_est is Σ_s d0(s) Σ_a π(a|s) Q(s,a) with π greedy in Q (ties to the lowest
action, as torch.argmax and pessimist's learners break them); `gap` =
q_est - true_return, the exact discounted J(π). States the data never acts in
hold the network's extrapolation; `gap_by_state` shows them too.
"""

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

# The columns of a pessimist dataset (docs/cli.md, "Data formats").
COLUMNS = ("episode", "step", "state", "action", "reward", "next_state", "terminated", "truncated")


def run_pessimist(pessimist, *args):
    """Runs pessimist; its stdout, or exits with its error."""
    done = subprocess.run([pessimist, *args], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"pessimist {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def read_dataset(path):
    """The dataset's columns as numpy arrays, from the .npz or .csv pessimist wrote."""
    if path.suffix == ".npz":
        with np.load(path) as npz:
            return {name: npz[name] for name in COLUMNS}
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    flag = {"true": True, "1": True, "false": False, "0": False}
    columns = {}
    for name in COLUMNS:
        cells = [row[name] for row in rows]
        if name == "reward":
            columns[name] = np.array(cells, dtype=np.float64)
        elif name in ("terminated", "truncated"):
            columns[name] = np.array([flag[c] for c in cells])
        else:
            columns[name] = np.array(cells, dtype=np.int64)
    return columns


def to_mdp_dataset(data, n_states, n_actions):
    """A d3rlpy MDPDataset of one-hot observations holding every transition
    of `data` (see the module's doc: an extra timeout row where a sequence
    ends without termination)."""
    from d3rlpy import ActionSpace
    from d3rlpy.dataset import MDPDataset

    states, actions, rewards, terminals, timeouts = [], [], [], [], []
    n = len(data["state"])
    for i in range(n):
        states.append(data["state"][i])
        actions.append(data["action"][i])
        rewards.append(data["reward"][i])
        terminated = bool(data["terminated"][i])
        continues = (
            not terminated
            and i + 1 < n
            and data["episode"][i + 1] == data["episode"][i]
            and data["state"][i + 1] == data["next_state"][i]
        )
        terminals.append(1.0 if terminated else 0.0)
        timeouts.append(0.0)
        if not terminated and not continues:
            # The next state as an observation closing the sequence.
            states.append(data["next_state"][i])
            actions.append(0)
            rewards.append(0.0)
            terminals.append(0.0)
            timeouts.append(1.0)
    observations = np.eye(n_states, dtype=np.float32)[np.array(states)]
    return MDPDataset(
        observations=observations,
        actions=np.array(actions, dtype=np.int64),
        rewards=np.array(rewards, dtype=np.float32),
        terminals=np.array(terminals, dtype=np.float32),
        timeouts=np.array(timeouts, dtype=np.float32),
        action_space=ActionSpace.DISCRETE,
        action_size=n_actions,
    )


def q_table(algo, n_states, n_actions):
    """The learner's Q(s, a) for every state and action, (n_states, n_actions)."""
    observations = np.repeat(np.eye(n_states, dtype=np.float32), n_actions, axis=0)
    actions = np.tile(np.arange(n_actions), n_states)
    values = algo.predict_value(observations, actions)
    return np.asarray(values, dtype=np.float32).reshape(n_states, n_actions)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="CliffWalkingSlippery-v1")
    parser.add_argument("--policy", default="medium", help="the dataset's quality")
    parser.add_argument("--size", type=int, default=10_000, help="transitions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gamma", type=float, default=0.99)
    parser.add_argument("--data", type=Path, help="use this dataset (.npz or .csv) instead of collecting one")
    parser.add_argument("--format", choices=("npz", "csv"), default="npz", help="of the collected dataset")
    parser.add_argument("--steps", type=int, default=20_000, help="gradient steps")
    parser.add_argument("--alpha", type=float, default=1.0, help="CQL's conservatism weight")
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--target-update-interval", type=int, default=1000)
    parser.add_argument("--device", default=None, help="e.g. cuda:0 (default: CPU)")
    parser.add_argument("--pessimist", default="pessimist", help="the pessimist binary")
    parser.add_argument("--workdir", type=Path, help="where data.npz and q.npy go (default: a temporary directory)")
    args = parser.parse_args()

    if shutil.which(args.pessimist) is None:
        sys.exit(f"no `{args.pessimist}` binary: build it (cargo build --release) and pass --pessimist PATH")
    import d3rlpy

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="truth-"))
    workdir.mkdir(parents=True, exist_ok=True)
    env = json.loads(run_pessimist(args.pessimist, "env", "show", args.env, "--json"))
    n_states, n_actions = env["n_states"], env["n_actions"]

    data_path = args.data
    if data_path is None:
        data_path = workdir / f"data.{args.format}"
        run_pessimist(
            args.pessimist, "data", "collect", "--env", args.env, "--policy", args.policy,
            "--size", str(args.size), "--seed", str(args.seed), "--gamma", str(args.gamma),
            "--out", str(data_path),
        )
    dataset = to_mdp_dataset(read_dataset(data_path), n_states, n_actions)

    d3rlpy.seed(args.seed)
    cql = d3rlpy.algos.DiscreteCQLConfig(
        gamma=args.gamma,
        alpha=args.alpha,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        target_update_interval=args.target_update_interval,
    ).create(device=args.device or False)
    cql.fit(
        dataset,
        n_steps=args.steps,
        n_steps_per_epoch=args.steps,  # one epoch: d3rlpy runs whole epochs only
        logger_adapter=d3rlpy.logging.NoopAdapterFactory(),
        show_progress=sys.stderr.isatty(),
    )

    q_path = workdir / "q.npy"
    np.save(q_path, q_table(cql, n_states, n_actions))
    truth = json.loads(
        run_pessimist(
            args.pessimist, "eval", "--env", args.env, "--q", str(q_path), "--greedy",
            "--gamma", str(args.gamma), "--json",
        )
    )
    print(f"DiscreteCQL (alpha {args.alpha}, {args.steps} steps) on {data_path}, {args.env}, gamma {args.gamma}")
    print(f"  q_est            {truth['q_est']:12.4f}  (what its Q says its greedy policy gets)")
    print(f"  true_return      {truth['true_return']:12.4f}  (exact J of that policy)")
    print(f"  gap              {truth['gap']:12.4f}")
    score = truth["normalized_score"]
    print(f"  normalized_score {'-' if score is None else f'{score:.1f}':>12}")
    by_state = truth["gap_by_state"]
    worst = sorted(range(n_states), key=lambda s: -abs(by_state[s]))[:5]
    print("  largest gaps by state: " + ", ".join(f"state {s} {by_state[s]:+.4f}" for s in worst))
    print(f"  Q table: {q_path}")


if __name__ == "__main__":
    main()
