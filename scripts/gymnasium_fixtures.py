#!/usr/bin/env python3
"""Dump Gymnasium's own transition tables into tests/fixtures/gymnasium/.

The Rust tests (tests/it/gymnasium.rs) compare pessimist's built-in
environments with these files entry by entry, so they need no Python.
Regenerate after a Gymnasium upgrade:

    pip install 'gymnasium==1.4.0'
    python3 scripts/gymnasium_fixtures.py
"""

import json
import pathlib

import gymnasium as gym

IDS = ["FrozenLake-v1", "FrozenLake8x8-v1", "CliffWalking-v1", "CliffWalkingSlippery-v1", "Taxi-v4"]
OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "gymnasium"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for env_id in IDS:
        env = gym.make(env_id)
        u = env.unwrapped
        n_states, n_actions = env.observation_space.n, env.action_space.n
        table = [
            [[[float(p), int(s), float(r), bool(t)] for (p, s, r, t) in u.P[s0][a]] for a in range(n_actions)]
            for s0 in range(n_states)
        ]
        fixture = {
            "id": env_id,
            "gymnasium_version": gym.__version__,
            "n_states": int(n_states),
            "n_actions": int(n_actions),
            "initial_state_distribution": [float(x) for x in u.initial_state_distrib],
            "P": table,
            "max_episode_steps": env.spec.max_episode_steps,
        }
        path = OUT / f"{env_id}.json"
        path.write_text(json.dumps(fixture, separators=(",", ":")) + "\n")
        print(f"wrote {path.relative_to(OUT.parent.parent.parent)}")


if __name__ == "__main__":
    main()
