"""Train PPO on ModEnHub-v0 with RLlib, then score it against the log-parallel heuristic.

A sketch of how the environment plugs into RLlib, not the project's training path
(that is ``modenhub train``, Stable-Baselines3 on the batched core). Needs RLlib, which
comes with the ``compat`` extra (ray 2.60's ``ray[rllib]`` pins gymnasium 1.2.2, inside the
project's range ``>=1.0,<2``)::

    pip install -c constraints/cpu.txt -e '.[compat]'
    python examples/rllib_ppo.py --preset hotspot --iterations 20
    python examples/rllib_ppo.py --quick      # 2 small iterations on one CPU (the test suite's run)

Without RLlib, ``--quick`` checks what does not need it (the env creator and the
heuristic's evaluation) and says that it skipped the training.

RLlib sees the env as a plain Gymnasium env (``MultiDiscrete`` actions, a ``Box``
observation); it does not use the action masks, so infeasible attempts are simply
clipped by the hub, as for SB3's PPO.
"""

from __future__ import annotations

import argparse

import numpy as np


def make_env(env_config: dict):
    """RLlib's env creator: ``env_config`` holds the preset and any HubConfig fields."""
    from modenhub_env import ModEnHubEnv

    return ModEnHubEnv(**env_config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="hotspot")
    parser.add_argument("--iterations", type=int, default=20, help="PPO iterations")
    parser.add_argument("--batch", type=int, default=4000, help="env steps per iteration")
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--episodes", type=int, default=10, help="evaluation episodes")
    parser.add_argument(
        "--quick", action="store_true",
        help="a smoke run: 2 iterations of 512 steps, one CPU, 2 evaluation episodes of 32 rounds",
    )
    args = parser.parse_args()
    env_config = {"preset": args.preset}
    minibatch, epochs = 256, 5
    if args.quick:
        args.iterations, args.batch, args.num_cpus, args.episodes = 2, 512, 1, 2
        env_config["episode_rounds"] = 32
        minibatch, epochs = 128, 1
        if not rllib_installed():
            heuristic = evaluate_heuristic(env_config, args.episodes)
            print(f"RLlib is not installed: skipped the training; log-parallel scored {heuristic:.1f} "
                  f"over {args.episodes} episodes through the env creator")
            return

    import ray
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.tune.registry import register_env

    ray.init(num_cpus=args.num_cpus, include_dashboard=False)
    register_env("ModEnHub-v0", make_env)
    config = (
        PPOConfig()
        .environment("ModEnHub-v0", env_config=env_config)
        .env_runners(num_env_runners=max(0, args.num_cpus - 1), num_envs_per_env_runner=4)
        .training(train_batch_size_per_learner=args.batch, minibatch_size=minibatch, num_epochs=epochs, lr=3e-4)
        .debugging(seed=0)
    )
    algo = config.build_algo()
    for iteration in range(1, args.iterations + 1):
        result = algo.train()
        mean = result.get("env_runners", {}).get("episode_return_mean", float("nan"))
        print(f"iteration {iteration:3d}: training episode return {mean:.1f}")

    learned = evaluate(algo.get_module(), env_config, args.episodes)
    heuristic = evaluate_heuristic(env_config, args.episodes)
    print(f"mean episode reward over {args.episodes} episodes: RLlib PPO {learned:.1f}, log-parallel {heuristic:.1f}")
    algo.stop()
    ray.shutdown()


def rllib_installed() -> bool:
    """True if RLlib imports (``ray[tune]`` ships its source but not its dependencies)."""
    try:
        import ray.rllib  # noqa: F401
    except ImportError:
        return False
    return True


def evaluate(module, env_config: dict, episodes: int) -> float:
    """Mean return of the RLlib module's greedy actions, episodes seeded 0, 1, ..."""
    import torch

    env, returns = make_env(env_config), []
    for seed in range(episodes):
        obs, _ = env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            with torch.no_grad():
                out = module.forward_inference({"obs": torch.as_tensor(obs[None])})
            action = _greedy(out["action_dist_inputs"][0].numpy(), env.action_space.nvec)
            obs, reward, terminated, truncated, _ = env.step(action)
            total, done = total + reward, terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


def _greedy(logits: np.ndarray, nvec: np.ndarray) -> np.ndarray:
    """The most likely value of each MultiDiscrete component (logits are concatenated)."""
    bounds = np.cumsum(np.concatenate([[0], nvec]))
    return np.array([int(np.argmax(logits[lo:hi])) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)])


def evaluate_heuristic(env_config: dict, episodes: int) -> float:
    from agents import make_policy

    env, returns = make_env(env_config), []
    policy = make_policy("log-parallel", env.config)
    for seed in range(episodes):
        obs, _ = env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            action, _ = policy.predict(obs[None])
            obs, reward, terminated, truncated, _ = env.step(action[0])
            total, done = total + reward, terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


if __name__ == "__main__":
    main()
