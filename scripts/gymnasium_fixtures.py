#!/usr/bin/env python3
"""Dump Gymnasium's own transition tables and classic-control trajectories
into tests/fixtures/gymnasium/.

The Rust tests (tests/it/gymnasium.rs) compare pessimist's built-in
environments with these files entry by entry and step by step, so they need
no Python. The trajectories start from states set as `env.unwrapped.state`
(seeded starts cannot match: pessimist draws them from its own generator)
and follow fixed action sequences, some made by simple controllers, chosen
so that each environment terminates in one case and is truncated in another.
Regenerate after a Gymnasium upgrade:

    pip install 'gymnasium==1.4.0'
    python3 scripts/gymnasium_fixtures.py
"""

import json
import pathlib
import warnings

import gymnasium as gym
import numpy as np

IDS = ["FrozenLake-v1", "FrozenLake8x8-v1", "CliffWalking-v1", "CliffWalkingSlippery-v1", "Taxi-v4"]
OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "gymnasium"


# (env id, case name, start state, policy(observation, step) -> action or
# "random" for uniformly random actions from a seeded numpy generator,
# steps past the end of the episode played on the raw environment).
CASES = [
    ("MountainCar-v0", "energy pumping reaches the goal", [-0.5, 0.0], "pump", 0),
    ("MountainCar-v0", "pushed into the left wall, then pumping", [-1.1, -0.05], "wall", 0),
    ("MountainCar-v0", "random actions, truncated", [-0.45, 0.0], "random", 0),
    ("CartPole-v1", "pushed right until the pole falls, then 3 steps more", [0.0, 0.0, 0.05, 0.0], "right", 3),
    ("CartPole-v1", "random actions until the pole falls", [0.02, 0.01, -0.03, 0.02], "random", 0),
    ("CartPole-v1", "a PD controller balances it, truncated", [0.01, -0.02, 0.03, 0.01], "pd", 0),
    ("Acrobot-v1", "random actions, truncated", [0.05, -0.03, 0.02, 0.01], "random", 0),
    ("Acrobot-v1", "started near the top, angles wrap, terminates", [3.1, -3.1, 1.0, -2.0], "random", 0),
]

POLICIES = {
    # Push in the direction of motion: energy pumping.
    "pump": lambda obs, t: 2 if obs[1] >= 0 else 0,
    "wall": lambda obs, t: 0 if t < 30 else (2 if obs[1] >= 0 else 0),
    "right": lambda obs, t: 1,
    "pd": lambda obs, t: int(obs[2] + 0.5 * obs[3] + 0.1 * obs[1] > 0),
}


def observation(env):
    """What Gymnasium would observe of the current state (float32)."""
    u = env.unwrapped
    if hasattr(u, "_get_ob"):
        return u._get_ob()
    return np.array(u.state, dtype=np.float32)


def trajectory(env_id, name, start, policy, beyond, seed):
    """Plays one case; each step's internal state (float64), observation
    (float32, written exactly), reward and end flags."""
    env = gym.make(env_id)
    env.reset(seed=seed)
    env.unwrapped.state = np.array(start, dtype=np.float64)
    rng = np.random.default_rng(seed)
    choose = (lambda obs, t: int(rng.integers(env.action_space.n))) if policy == "random" else POLICIES[policy]
    obs = observation(env)
    case = {"id": env_id, "name": name, "start": start, "actions": [], "states": [], "observations": [obs.tolist()],
            "rewards": [], "terminated": [], "truncated": []}
    ended_at = None
    for t in range(env.spec.max_episode_steps):
        action = choose(obs, t)
        if ended_at is None:
            obs, reward, terminated, truncated, _ = env.step(action)
        else:
            # Past the end Gymnasium's wrappers are bypassed, as pessimist's
            # Env::step is below its time limit.
            obs, reward, terminated, truncated, _ = env.unwrapped.step(action)
        case["actions"].append(action)
        case["states"].append([float(x) for x in env.unwrapped.state])
        case["observations"].append(obs.tolist())
        case["rewards"].append(float(reward))
        case["terminated"].append(bool(terminated))
        case["truncated"].append(bool(truncated))
        if ended_at is None and (terminated or truncated):
            ended_at = t + 1
        if ended_at is not None and t + 1 == ended_at + beyond:
            break
    return case


# The classical controllers of `env rollout --controller`, on the float64
# internal state as pessimist's see it.
CONTROLLERS = {
    "MountainCar-v0": lambda s: 2 if s[1] >= 0 else 0,
    "CartPole-v1": lambda s: int(s[2] + 0.5 * s[3] > 0),
    "Acrobot-v1": lambda s: 2 if s[3] >= 0 else 0,
}


def controlled(env_id, seed):
    """The controller's episode from Gymnasium's own seeded start."""
    env = gym.make(env_id)
    env.reset(seed=seed)
    start = [float(x) for x in env.unwrapped.state]
    total, steps, terminated, truncated = 0.0, 0, False, False
    while not (terminated or truncated):
        state = np.asarray(env.unwrapped.state, dtype=np.float64)
        _, reward, terminated, truncated, _ = env.step(CONTROLLERS[env_id](state))
        total, steps = total + float(reward), steps + 1
    return {"id": env_id, "seed": seed, "start": start, "return": total, "steps": steps, "terminated": terminated}


# Episodes behind each controller's mean return: Acrobot's returns have a
# heavy tail (a few swings take the whole 500 steps), so 20 episodes give
# neither a sound mean nor a sound standard error.
RETURN_EPISODES = 10_000


def returns(env_id):
    """Mean, standard error and count of the controller's episode returns
    from Gymnasium's seeded starts 0, 1, ...: what pessimist's measured
    reference return (`env show`) is compared with."""
    r = np.array([controlled(env_id, seed)["return"] for seed in range(RETURN_EPISODES)])
    return {"n": len(r), "mean": float(r.mean()), "se": float(r.std(ddof=1) / np.sqrt(len(r)))}


def trajectories() -> None:
    warnings.filterwarnings("ignore", message=".*step.*terminated")
    cases = [trajectory(*case, seed=i) for i, case in enumerate(CASES)]
    controllers = [controlled(env_id, seed) for env_id in CONTROLLERS for seed in range(20)]
    fixture = {"gymnasium_version": gym.__version__, "numpy_version": np.__version__, "cases": cases,
               "controllers": controllers, "controller_returns": {env_id: returns(env_id) for env_id in CONTROLLERS}}
    path = OUT / "classic_control.json"
    path.write_text(json.dumps(fixture, separators=(",", ":")) + "\n")
    print(f"wrote {path.relative_to(OUT.parent.parent.parent)}")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    trajectories()
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
