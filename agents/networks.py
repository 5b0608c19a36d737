"""Policy networks over the observation's slots, so that one network serves any ``N``.

The observation (``modenhub_env.observation``) is ``GLOBAL_FEATURES``, then ``K`` request
slots of ``REQUEST_FEATURES``, then ``M`` prefetch slots of ``PREFETCH_FEATURES`` (each block
longer in observation version 1, ``block_features``). Its features describe requests, not
QPUs, so its size depends on ``K``, ``M`` and the version only; the extractor reads the
version from the size.

* :class:`SlotFeaturesExtractor` (an SB3 ``BaseFeaturesExtractor``) encodes every request
  slot with one shared MLP and every prefetch slot with another (each slot sees the global
  features too), pools each kind with mean and max over the *present* slots, and returns
  ``[context, slot encodings]`` where ``context = [global, pooled requests, pooled prefetch]``.
  With SB3's stock heads (``policy="pooled"`` in training) the slot encodings are read in
  slot order by a flat MLP.
* :class:`SlotActorCriticPolicy` / :class:`MaskableSlotActorCriticPolicy` put a *per-slot*
  action head on it: the logits of slot ``i`` come from slot ``i``'s encoding and the
  context through weights shared by all request slots (and others shared by all prefetch
  slots). SB3's ``MultiDiscrete`` distribution splits the logits per dimension, slot after
  slot, which is exactly the ``(B, K + M, k_max + 1)`` head output flattened. The value
  comes from the context alone. The policy is permutation-equivariant over slots.
* A *prior* (``prior=("single-request-dp", strength, config)``): the logits start from a
  handcrafted policy's choice. The extractor runs that policy (any name of
  :func:`agents.make_policy`) on the observation and adds ``strength`` to the logit of the
  attempts it picks in every slot, so training starts from the heuristic and learns where
  to leave it (residual policy learning). The prior is part of the network, saved with it,
  and runs wherever the model does.

Needs torch, stable-baselines3 and sb3-contrib; import this module explicitly (``agents`` itself does
not import torch).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from modenhub_env.observation import (
    GLOBAL_FEATURES,
    OBSERVATION_VERSIONS,
    PREFETCH_FEATURES,
    REQUEST_FEATURES,
    block_features,
    observation_size,
)

N_GLOBAL, N_REQUEST, N_PREFETCH = len(GLOBAL_FEATURES), len(REQUEST_FEATURES), len(PREFETCH_FEATURES)


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    return nn.Sequential(*layers)


def split_observation(
    obs: th.Tensor, request_slots: int, prefetch_slots: int, version: int = 0
) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
    """``(B, obs_dim)`` -> global ``(B, 6)``, requests ``(B, K, 9)``, prefetch ``(B, M, 6)``
    (in observation version 1: ``(B, 8)``, ``(B, K, 12)``, ``(B, M, 9)``)."""
    n_global, n_request, n_prefetch = (len(names) for names in block_features(version))
    batch = obs.shape[0]
    end_requests = n_global + request_slots * n_request
    requests = obs[:, n_global:end_requests].reshape(batch, request_slots, n_request)
    prefetch = obs[:, end_requests:].reshape(batch, prefetch_slots, n_prefetch)
    return obs[:, :n_global], requests, prefetch


def observation_version(size: int, request_slots: int, prefetch_slots: int) -> int:
    """The observation version whose layout for ``K``, ``M`` has ``size`` features."""
    for version in OBSERVATION_VERSIONS:
        if observation_size(request_slots, prefetch_slots, version) == size:
            return version
    expected = [observation_size(request_slots, prefetch_slots, v) for v in OBSERVATION_VERSIONS]
    raise ValueError(
        f"observation of size {size} does not fit K={request_slots}, M={prefetch_slots} "
        f"(expected one of {expected}, for observation versions {list(OBSERVATION_VERSIONS)})"
    )


def masked_pool(encoded: th.Tensor, present: th.Tensor) -> th.Tensor:
    """Mean and max of ``encoded`` ``(B, S, H)`` over the slots with ``present`` ``(B, S)``
    set, ``(B, 2H)``; zeros where no slot is present."""
    weight = present.unsqueeze(-1)
    count = weight.sum(dim=1).clamp(min=1.0)
    mean = (encoded * weight).sum(dim=1) / count
    masked = encoded.masked_fill(weight <= 0.0, float("-inf")).amax(dim=1)
    largest = th.where(th.isfinite(masked), masked, th.zeros_like(masked))
    return th.cat([mean, largest], dim=1)


class HeuristicPrior:
    """Logit offsets ``(B, (K + M) * (k_max + 1))`` from a handcrafted policy: ``strength``
    on the attempts it chooses in each slot, 0 elsewhere. No gradient flows through it.

    :param name: the policy, as :func:`agents.make_policy` takes it (e.g. ``"single-request-dp"``).
    :param strength: the offset of its choice [logits].
    :param config: the training scenario, as :meth:`HubConfig.to_dict` gives it.
    """

    def __init__(self, name: str, strength: float, config: dict[str, Any]) -> None:
        from agents.registry import make_policy
        from modenhub_env.config import HubConfig

        self.strength = float(strength)
        hub = HubConfig.from_dict(config)
        self.policy = make_policy(name, hub)
        self.choices = hub.k_max + 1

    def __call__(self, observations: th.Tensor) -> th.Tensor:
        actions, _ = self.policy.predict(observations.detach().cpu().numpy())
        chosen = th.as_tensor(actions, device=observations.device)
        onehot = nn.functional.one_hot(chosen.clamp(0, self.choices - 1), self.choices)
        return (self.strength * onehot.to(observations.dtype)).reshape(observations.shape[0], -1)


class SlotFeaturesExtractor(BaseFeaturesExtractor):
    """Shared per-slot encoders and pooling (see the module docstring).

    Output: ``context`` of ``6 + 2H + (2H if M else 0)`` entries, then the ``K + M`` slot
    encodings of ``H`` each.

    :param observation_space: the env's ``Box`` of size ``6 + 9K + 6M`` (observation version
        0) or ``8 + 12K + 9M`` (version 1).
    :param request_slots: ``K``.
    :param prefetch_slots: ``M``.
    :param hidden: width ``H`` of the slot encoders.
    """

    def __init__(
        self,
        observation_space: gym.spaces.Box,
        request_slots: int,
        prefetch_slots: int,
        hidden: int = 64,
        prior: tuple[str, float, dict[str, Any]] | None = None,
    ) -> None:
        if len(observation_space.shape) != 1:
            raise ValueError(f"observation of shape {observation_space.shape} is not a vector")
        self.version = observation_version(observation_space.shape[0], request_slots, prefetch_slots)
        n_global, n_request, n_prefetch = (len(names) for names in block_features(self.version))
        self.request_slots, self.prefetch_slots, self.hidden = request_slots, prefetch_slots, hidden
        self.prior = HeuristicPrior(*prior) if prior is not None else None
        self.prior_dim = (request_slots + prefetch_slots) * self.prior.choices if self.prior else 0
        self.context_dim = n_global + 2 * hidden + (2 * hidden if prefetch_slots else 0)
        slots_dim = (request_slots + prefetch_slots) * hidden
        super().__init__(observation_space, self.context_dim + slots_dim + self.prior_dim)
        self.request_encoder = _mlp([n_request + n_global, hidden, hidden])
        self.prefetch_encoder = _mlp([n_prefetch + n_global, hidden, hidden]) if prefetch_slots else None

    def forward(self, observations: th.Tensor) -> th.Tensor:
        glob, requests, prefetch = split_observation(observations, self.request_slots, self.prefetch_slots, self.version)
        encoded = self._encode(self.request_encoder, requests, glob)
        parts, slots = [glob, masked_pool(encoded, requests[..., 0])], [encoded]
        if self.prefetch_encoder is not None:
            encoded_prefetch = self._encode(self.prefetch_encoder, prefetch, glob)
            parts.append(masked_pool(encoded_prefetch, prefetch[..., 0]))
            slots.append(encoded_prefetch)
        batch = observations.shape[0]
        parts.append(th.cat(slots, dim=1).reshape(batch, -1))
        if self.prior is not None:
            parts.append(self.prior(observations))
        return th.cat(parts, dim=1)

    @staticmethod
    def _encode(encoder: nn.Module, slots: th.Tensor, glob: th.Tensor) -> th.Tensor:
        context = glob.unsqueeze(1).expand(-1, slots.shape[1], -1)
        return encoder(th.cat([slots, context], dim=-1))


class SlotLatents(nn.Module):
    """SB3's ``mlp_extractor`` for the per-slot policy: the actor's latent is one vector of
    ``H`` per slot (from its encoding and the context), flattened; the critic's comes from
    the context.

    :param extractor: the :class:`SlotFeaturesExtractor` whose output this reads.
    :param hidden: width of the latents.
    """

    def __init__(self, extractor: SlotFeaturesExtractor, hidden: int) -> None:
        super().__init__()
        self.context_dim, self.slot_dim = extractor.context_dim, extractor.hidden
        self.n_slots = extractor.request_slots + extractor.prefetch_slots
        self.request_slots = extractor.request_slots
        self.hidden = hidden
        self.request_actor = _mlp([self.slot_dim + self.context_dim, hidden, hidden])
        self.prefetch_actor = _mlp([self.slot_dim + self.context_dim, hidden, hidden]) if extractor.prefetch_slots else None
        self.critic = _mlp([self.context_dim, hidden, hidden])
        self.prior_dim = extractor.prior_dim
        self.latent_dim_pi = self.n_slots * hidden + self.prior_dim
        self.latent_dim_vf = hidden

    def forward(self, features: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        return self.forward_actor(features), self.forward_critic(features)

    def forward_actor(self, features: th.Tensor) -> th.Tensor:
        batch = features.shape[0]
        context = features[:, : self.context_dim]
        slots_end = self.context_dim + self.n_slots * self.slot_dim
        slots = features[:, self.context_dim : slots_end].reshape(batch, self.n_slots, self.slot_dim)
        joined = th.cat([slots, context.unsqueeze(1).expand(-1, self.n_slots, -1)], dim=-1)
        latents = [self.request_actor(joined[:, : self.request_slots])]
        if self.prefetch_actor is not None:
            latents.append(self.prefetch_actor(joined[:, self.request_slots :]))
        # The prior's logit offsets ride along after the latents, for the action head.
        return th.cat([th.cat(latents, dim=1).reshape(batch, -1), features[:, slots_end:]], dim=1)

    def forward_critic(self, features: th.Tensor) -> th.Tensor:
        return self.critic(features[:, : self.context_dim])


class SlotActionHead(nn.Module):
    """Logits ``(B, (K + M) * choices)`` from the per-slot latents, one linear map shared
    by the request slots and one by the prefetch slots, plus the prior's offsets if any."""

    def __init__(self, latents: SlotLatents, choices: int) -> None:
        super().__init__()
        self.n_slots, self.request_slots, self.hidden = latents.n_slots, latents.request_slots, latents.hidden
        self.has_prior = latents.prior_dim > 0
        self.request_logits = nn.Linear(latents.hidden, choices)
        self.prefetch_logits = nn.Linear(latents.hidden, choices) if latents.prefetch_actor is not None else None

    def forward(self, latent_pi: th.Tensor) -> th.Tensor:
        batch, end = latent_pi.shape[0], self.n_slots * self.hidden
        slots = latent_pi[:, :end].reshape(batch, self.n_slots, self.hidden)
        logits = [self.request_logits(slots[:, : self.request_slots])]
        if self.prefetch_logits is not None:
            logits.append(self.prefetch_logits(slots[:, self.request_slots :]))
        flat = th.cat(logits, dim=1).reshape(batch, -1)
        return flat + latent_pi[:, end:] if self.has_prior else flat


class _SlotHeads:
    """Mixin replacing SB3's flat MLP and action layer with the per-slot ones."""

    def __init__(self, *args: Any, slot_latent: int = 64, attempt_prior: float = 0.0, **kwargs: Any) -> None:
        self.slot_latent, self.attempt_prior = slot_latent, attempt_prior
        super().__init__(*args, **kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        extra = {"slot_latent": self.slot_latent, "attempt_prior": self.attempt_prior}
        return {**super()._get_constructor_parameters(), **extra}

    def _build_mlp_extractor(self) -> None:
        if not isinstance(self.features_extractor, SlotFeaturesExtractor):
            raise ValueError("the per-slot policy needs features_extractor_class=SlotFeaturesExtractor")
        self.mlp_extractor = SlotLatents(self.features_extractor, self.slot_latent)

    def _build(self, lr_schedule: Any) -> None:
        super()._build(lr_schedule)
        dims = np.asarray(self.action_space.nvec)
        if dims.ndim != 1 or dims.size != self.mlp_extractor.n_slots or np.any(dims != dims[0]):
            raise ValueError(f"the per-slot policy needs MultiDiscrete([k_max + 1] * (K + M)), got {self.action_space}")
        self.action_net = SlotActionHead(self.mlp_extractor, int(dims[0]))
        if self.ortho_init:
            self.action_net.apply(lambda module: self.init_weights(module, gain=0.01))
        with th.no_grad():
            prior = -self.attempt_prior * th.arange(int(dims[0]), dtype=th.float32)
            for layer in (self.action_net.request_logits, self.action_net.prefetch_logits):
                if layer is not None:
                    layer.bias.copy_(prior)
        # The head changed after SB3 built the optimizer: build it again over every parameter.
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)


class SlotActorCriticPolicy(_SlotHeads, ActorCriticPolicy):
    """Per-slot actor-critic for PPO and A2C (see the module docstring).

    :param slot_latent: width of the per-slot latents.
    :param attempt_prior: initial logits ``-attempt_prior * n`` for ``n`` attempts, so that
        an untrained policy launches few (0 is uniform); other arguments as SB3's
        ``ActorCriticPolicy`` (``net_arch`` is unused).
    """


class MaskableSlotActorCriticPolicy(_SlotHeads, MaskableActorCriticPolicy):
    """Per-slot actor-critic for sb3-contrib's MaskablePPO; arguments as
    :class:`SlotActorCriticPolicy`."""
