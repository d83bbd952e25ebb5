#!/usr/bin/env python3
"""Write a Gymnasium toy-text environment as a pessimist MDP file.

The file is Gymnasium's own `env.unwrapped.P` table plus the start
distribution, the sizes and the time limit, as JSON:

    {"id", "gymnasium_version", "n_states", "n_actions",
     "initial_state_distribution": [p per state],
     "P": P[s][a] = [[probability, next_state, reward, terminated], ...],
     "max_episode_steps": int or null}

Train on it with `env = { file = "my_mdp.json" }` in a spec or
`--env file:my_mdp.json` on the command line. Any environment whose
observation and action spaces are Discrete and whose unwrapped env has `P`
works (FrozenLake, CliffWalking, Taxi, and your own).

    pip install 'gymnasium==1.4.0'
    python3 scripts/export_mdp.py FrozenLake-v1 -o frozen_lake.json
    python3 scripts/export_mdp.py FrozenLake-v1 --kwarg is_slippery=false -o lake.json
"""

import argparse
import json
import math
import sys

import gymnasium as gym
import numpy as np


def number(x):
    """A JSON number; NaN and infinities become null (pessimist rejects them by place)."""
    x = float(x)
    return x if math.isfinite(x) else None


def export(env_id, kwargs):
    env = gym.make(env_id, **kwargs)
    u = env.unwrapped
    if not isinstance(env.observation_space, gym.spaces.Discrete) or not isinstance(
        env.action_space, gym.spaces.Discrete
    ):
        sys.exit(f"{env_id}: observations and actions must be Discrete")
    if not hasattr(u, "P"):
        sys.exit(f"{env_id}: the unwrapped environment has no transition table P")
    n_states, n_actions = int(env.observation_space.n), int(env.action_space.n)
    initial = getattr(u, "initial_state_distrib", None)
    if initial is None:
        sys.exit(f"{env_id}: the unwrapped environment has no initial_state_distrib")
    table = [
        [
            [[number(p), int(s), number(r), bool(t)] for (p, s, r, t) in u.P[s0][a]]
            for a in range(n_actions)
        ]
        for s0 in range(n_states)
    ]
    return {
        "id": env_id,
        "gymnasium_version": gym.__version__,
        "n_states": n_states,
        "n_actions": n_actions,
        "initial_state_distribution": [number(x) for x in np.asarray(initial).ravel()],
        "P": table,
        "max_episode_steps": env.spec.max_episode_steps,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("env_id", help="a Gymnasium id, e.g. FrozenLake-v1")
    parser.add_argument("-o", "--out", help="output file (default: stdout)")
    parser.add_argument(
        "--kwarg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="keyword argument for gym.make, VALUE as JSON (repeatable)",
    )
    args = parser.parse_args()
    kwargs = {}
    for item in args.kwarg:
        key, _, value = item.partition("=")
        kwargs[key] = json.loads(value)
    text = json.dumps(export(args.env_id, kwargs), separators=(",", ":"), allow_nan=False) + "\n"
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
