"""TorchRL on the README's snippet: ``GymEnv`` by id (TorchRL probes ``frameskip`` and needs
a ``TypeError`` for it), ``GymWrapper`` of the single and the native vector env,
``check_env_specs``, and rollouts across episode ends that match single envs step for step."""

from __future__ import annotations

import numpy as np
import pytest

from tests.compat.readme import require, run_python_snippet

ENV_ID = "modenhub_env:ModEnHub-v0"


@pytest.fixture(autouse=True)
def _torchrl():
    require("torchrl")
    import torch

    torch.set_num_threads(1)


def test_torchrl_snippet__passes_check_env_specs_and_rolls_out_across_episode_ends():
    import gymnasium as gym

    namespace = run_python_snippet("torchrl")
    envs, rollout = namespace["envs"], namespace["rollout"]
    assert envs.batch_size == (8,)
    assert envs._env.autoreset_mode == gym.vector.AutoresetMode.DISABLED
    assert rollout.shape == (8, 300)
    done = rollout["next", "done"][..., 0]
    assert (done.sum(dim=1) == 1).all()  # each hub ended its 256-round episode once ...
    assert (rollout["observation"][:, 257] != rollout["next", "observation"][:, 255]).any()  # ... and restarted


def test_gym_env__by_id_passes_options_and_drops_frameskip():
    from torchrl.envs import GymEnv

    env = GymEnv(ENV_ID, preset="hotspot", n_qpus=8)
    assert env._env.unwrapped.config.n_qpus == 8
    assert env.wrapper_frame_skip == 1  # TorchRL's own frame skip, not passed to the env


def test_gym_env__unknown_keyword_still_raises():
    from torchrl.envs import GymEnv

    with pytest.raises(TypeError, match="unexpected keyword argument 'n_qbits' \\(did you mean 'n_qpus'") as err:
        GymEnv(ENV_ID, preset="hotspot", n_qbits=8)
    assert "frameskip" not in str(err.value)  # TorchRL dropped its own probe and retried


def test_gym_wrapper__single_env_passes_check_env_specs():
    import gymnasium as gym
    from torchrl.envs import GymWrapper
    from torchrl.envs.utils import check_env_specs

    check_env_specs(GymWrapper(gym.make(ENV_ID, preset="contention", episode_rounds=5)), seed=0)


def test_gym_wrapper__same_step_vector_env_passes_check_env_specs():
    import gymnasium as gym
    from torchrl.envs import GymWrapper
    from torchrl.envs.utils import check_env_specs

    envs = GymWrapper(gym.make_vec(ENV_ID, num_envs=3, preset="contention", episode_rounds=4))
    check_env_specs(envs, seed=0)
    assert envs.rollout(10, break_when_any_done=False)["next", "done"].sum() == 6


def test_gym_wrapper__disabled_vector_rows_equal_single_envs_across_episode_ends():
    """With ``DISABLED``, TorchRL restarts exactly the finished hubs (``reset_mask``), so every
    row is a single env's run. (With ``SAME_STEP``, TorchRL resets the whole batch again when
    every hub finishes in the same step, skipping the episodes the env had just started.)"""
    import gymnasium as gym
    import torch
    from torchrl.envs import GymWrapper

    from modenhub_env import ModEnHubEnv

    batch, seed, steps, kwargs = 3, 7, 14, {"preset": "hotspot", "episode_rounds": 5}
    envs = GymWrapper(
        gym.make_vec(ENV_ID, num_envs=batch, autoreset_mode="Disabled", **kwargs), categorical_action_encoding=True
    )
    envs.set_seed(seed)  # a reset seeded seed + i per hub; the rollout's own reset starts the next episodes
    gen = torch.Generator().manual_seed(0)

    def policy(td):
        td["action"] = torch.randint(0, 3, (batch, 10), generator=gen)
        return td

    rollout = envs.rollout(steps, policy=policy, break_when_any_done=False)
    ends = 0
    for i in range(batch):
        single = ModEnHubEnv(**kwargs)
        single.reset(seed=seed + i)
        obs, _ = single.reset()
        for t in range(steps):
            np.testing.assert_array_equal(rollout["observation"][i, t].numpy(), obs)
            obs, reward, terminated, truncated, _ = single.step(rollout["action"][i, t].numpy())
            np.testing.assert_array_equal(rollout["next", "observation"][i, t].numpy(), obs)
            assert rollout["next", "reward"][i, t, 0].item() == pytest.approx(reward)
            assert bool(rollout["next", "done"][i, t, 0]) == (terminated or truncated)
            if terminated or truncated:
                ends += 1
                obs, _ = single.reset()
    assert ends == batch * (steps // 5)


def test_collector__clip_ppo_trains_on_the_native_vector_env():
    """A short TorchRL training run: its collector steps the DISABLED batch (restarting
    finished hubs through ``reset_mask``), GAE and ``ClipPPOLoss`` update the policy."""
    import gymnasium as gym
    import torch
    from tensordict.nn import TensorDictModule
    from torch import distributions, nn
    from torchrl.collectors import Collector
    from torchrl.envs import GymWrapper
    from torchrl.modules import MLP, ProbabilisticActor, ValueOperator
    from torchrl.objectives import ClipPPOLoss
    from torchrl.objectives.value import GAE

    class SlotCategorical(distributions.Independent):
        """Attempts of each slot from its own categorical: the env's ``MultiDiscrete`` action."""

        def __init__(self, logits: torch.Tensor) -> None:
            super().__init__(distributions.Categorical(logits=logits), 1)

        @property
        def deterministic_sample(self) -> torch.Tensor:
            return self.base_dist.probs.argmax(-1)

    torch.manual_seed(0)
    envs = GymWrapper(
        gym.make_vec(ENV_ID, num_envs=8, preset="hotspot", episode_rounds=16, autoreset_mode="Disabled"),
        categorical_action_encoding=True,
    )
    features = envs.observation_spec["observation"].shape[-1]
    nvec = envs._env.single_action_space.nvec
    slots, choices = len(nvec), int(nvec[0])
    logits = nn.Sequential(MLP(in_features=features, out_features=slots * choices, num_cells=[64]),
                           nn.Unflatten(-1, (slots, choices)))
    actor = ProbabilisticActor(
        TensorDictModule(logits, in_keys=["observation"], out_keys=["logits"]), in_keys=["logits"],
        distribution_class=SlotCategorical, return_log_prob=True, spec=envs.action_spec,
    )
    critic = ValueOperator(MLP(in_features=features, out_features=1, num_cells=[64]), in_keys=["observation"])
    loss_module, advantage = ClipPPOLoss(actor, critic), GAE(gamma=0.99, lmbda=0.95, value_network=critic)
    optimiser = torch.optim.Adam(loss_module.parameters(), lr=3e-4)
    before = [p.detach().clone() for p in actor.parameters()]
    collector = Collector(envs, actor, frames_per_batch=256, total_frames=512, auto_register_policy_transforms=False)
    frames = episodes = 0
    for batch in collector:
        frames += batch.numel()
        episodes += int(batch["next", "done"].sum())
        with torch.no_grad():
            advantage(batch)
        losses = loss_module(batch.reshape(-1))
        total = losses["loss_objective"] + losses["loss_critic"] + losses["loss_entropy"]
        assert torch.isfinite(total)
        optimiser.zero_grad()
        total.backward()
        optimiser.step()
    collector.shutdown()
    assert frames == 512 and episodes == 8 * (64 // 16)
    assert any(not torch.equal(old, new) for old, new in zip(before, actor.parameters(), strict=True))
