"""PPO on ModEnHub-v0 in the style of a CleanRL script: one file, a typed ``Args``, one
seeding block, the native vector env, action masks applied to the logits.

A sketch of how the environment plugs into a hand-written training loop, not the
project's training path (that is ``modenhub train``). Needs torch (the ``train`` extra)::

    python examples/cleanrl_ppo.py --preset hotspot --total-timesteps 200000
    python examples/cleanrl_ppo.py --quick     # a few seconds: the smoke run of CI
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import nn

import modenhub_env  # noqa: F401  (registers ModEnHub-v0)


@dataclass
class Args:
    preset: str = "hotspot"
    seed: int = 0
    total_timesteps: int = 200_000
    num_envs: int = 16
    num_steps: int = 64  # [rounds per env per rollout]
    learning_rate: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    update_epochs: int = 4
    num_minibatches: int = 4
    clip_coef: float = 0.2
    ent_coef: float = 0.0
    vf_coef: float = 0.5


class Agent(nn.Module):
    """An MLP critic and one categorical head per slot (MultiDiscrete), masked."""

    def __init__(self, obs_size: int, nvec: np.ndarray) -> None:
        super().__init__()
        self.nvec = [int(n) for n in nvec]
        self.critic = nn.Sequential(nn.Linear(obs_size, 64), nn.Tanh(), nn.Linear(64, 1))
        self.actor = nn.Sequential(nn.Linear(obs_size, 64), nn.Tanh(), nn.Linear(64, sum(self.nvec)))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)

    def act(self, obs: torch.Tensor, masks: torch.Tensor, action: torch.Tensor | None = None):
        logits = self.actor(obs).masked_fill(~masks, -1e8)
        dists = [torch.distributions.Categorical(logits=part) for part in logits.split(self.nvec, dim=-1)]
        if action is None:
            action = torch.stack([d.sample() for d in dists], dim=-1)
        logprob = torch.stack([d.log_prob(a) for d, a in zip(dists, action.unbind(-1), strict=True)]).sum(0)
        entropy = torch.stack([d.entropy() for d in dists]).sum(0)
        return action, logprob, entropy, self.value(obs)


def train(args: Args) -> float:
    """Train and return the mean episode return of the last rollouts."""
    run_name = f"ModEnHub-v0__{args.preset}__{args.seed}__{int(time.time())}"
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)

    envs = gym.make_vec("modenhub_env:ModEnHub-v0", num_envs=args.num_envs, preset=args.preset)
    nvec = envs.single_action_space.nvec
    agent = Agent(envs.single_observation_space.shape[0], nvec)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)
    shape = (args.num_steps, args.num_envs)
    obs_buf = torch.zeros(shape + envs.single_observation_space.shape)
    mask_buf = torch.zeros(shape + (int(nvec.sum()),), dtype=torch.bool)
    act_buf = torch.zeros(shape + (len(nvec),), dtype=torch.long)
    logp_buf, rew_buf, done_buf, val_buf = (torch.zeros(shape) for _ in range(4))

    obs, _ = envs.reset(seed=args.seed)
    obs = torch.as_tensor(obs)
    done = torch.zeros(args.num_envs)
    returns, running = [], np.zeros(args.num_envs)
    batch = args.num_envs * args.num_steps
    updates = max(1, args.total_timesteps // batch)
    for update in range(1, updates + 1):
        for step in range(args.num_steps):
            masks = torch.as_tensor(envs.unwrapped.action_masks())
            with torch.no_grad():
                action, logprob, _, value = agent.act(obs, masks)
            obs_buf[step], mask_buf[step], act_buf[step] = obs, masks, action
            logp_buf[step], val_buf[step], done_buf[step] = logprob, value, done
            next_obs, reward, terminated, truncated, _ = envs.step(action.numpy())
            running += reward
            finished = terminated | truncated
            returns += list(running[finished])
            running[finished] = 0.0
            rew_buf[step] = torch.as_tensor(reward, dtype=torch.float32)
            obs, done = torch.as_tensor(next_obs), torch.as_tensor(finished, dtype=torch.float32)

        with torch.no_grad():  # generalised advantage estimation
            advantages = torch.zeros(shape)
            last_gae, next_value = 0.0, agent.value(obs)
            for t in reversed(range(args.num_steps)):
                not_done = 1.0 - (done if t == args.num_steps - 1 else done_buf[t + 1])
                following = next_value if t == args.num_steps - 1 else val_buf[t + 1]
                delta = rew_buf[t] + args.gamma * following * not_done - val_buf[t]
                last_gae = delta + args.gamma * args.gae_lambda * not_done * last_gae
                advantages[t] = last_gae
            targets = advantages + val_buf

        flat = [x.reshape((batch,) + x.shape[2:]) for x in (obs_buf, mask_buf, act_buf, logp_buf, advantages, targets)]
        minibatch = batch // args.num_minibatches
        for _ in range(args.update_epochs):
            for idx in torch.randperm(batch).split(minibatch):
                b_obs, b_mask, b_act, b_logp, b_adv, b_ret = (x[idx] for x in flat)
                _, logprob, entropy, value = agent.act(b_obs, b_mask, b_act)
                ratio = (logprob - b_logp).exp()
                b_adv = (b_adv - b_adv.mean()) / (b_adv.std() + 1e-8)
                pg_loss = torch.max(-b_adv * ratio, -b_adv * ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef)).mean()
                loss = pg_loss - args.ent_coef * entropy.mean() + args.vf_coef * ((value - b_ret) ** 2).mean()
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), 0.5)
                optimizer.step()
        recent = np.mean(returns[-args.num_envs:]) if returns else float("nan")
        print(f"{run_name} update {update}/{updates}: {update * batch} steps, "
              f"mean episode return {recent:.1f} ({len(returns)} episodes)")
    envs.close()
    return float(np.mean(returns[-args.num_envs:])) if returns else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for field in dataclasses.fields(Args):
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=type(field.default), default=field.default)
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds (as CI runs it)")
    ns = vars(parser.parse_args())
    quick = ns.pop("quick")
    args = Args(**ns)
    if quick:
        args = dataclasses.replace(args, total_timesteps=2 * 4 * 32, num_envs=4, num_steps=32, update_epochs=1)
    train(args)


if __name__ == "__main__":
    main()
