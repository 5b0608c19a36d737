"""The per-slot networks and ``LearnedPolicy``: shapes, equivariance, masks, bad and
hostile files (a model file holds no code; an SB3 zip loads only when trusted)."""

from __future__ import annotations

import base64
import json
import pickle
import zipfile

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

import torch as th  # noqa: E402
from sb3_contrib import MaskablePPO  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402

from agents import make_policy  # noqa: E402
from agents.learned import LearnedPolicy, convert_zip, policy_file_bytes  # noqa: E402
from agents.networks import (  # noqa: E402
    MaskableSlotActorCriticPolicy,
    SlotActorCriticPolicy,
    SlotFeaturesExtractor,
    masked_pool,
)
from modenhub_env.config import HubConfig  # noqa: E402
from modenhub_env.observation import GLOBAL_FEATURES, REQUEST_FEATURES  # noqa: E402
from modenhub_env.sb3 import ModEnHubVecEnv  # noqa: E402

CONFIG = HubConfig.preset("contention", n_qpus=8)  # K = 8 request, M = 2 prefetch slots
N_GLOBAL = len(GLOBAL_FEATURES)


def slot_policy_kwargs(config: HubConfig) -> dict:
    return {
        "features_extractor_class": SlotFeaturesExtractor,
        "features_extractor_kwargs": {"request_slots": config.request_slots, "prefetch_slots": config.prefetch_slots,
                                      "hidden": 16},
        "slot_latent": 16,
    }


def metadata(config: HubConfig, algo: str) -> dict:
    """The ``modenhub.json`` of an SB3 zip."""
    return {"format": 1, "algo": algo, "policy": "slots", "config": config.to_dict()}


def sb3_zip(model, path, config: HubConfig, algo: str):
    """``model`` saved by SB3, with ``modenhub.json`` (the format of earlier versions)."""
    model.save(path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("modenhub.json", json.dumps(metadata(config, algo)))
    return path


@pytest.fixture(scope="module")
def ppo_model():
    th.manual_seed(0)
    env = ModEnHubVecEnv(2, config=CONFIG)
    return PPO(SlotActorCriticPolicy, env, n_steps=8, batch_size=16, policy_kwargs=slot_policy_kwargs(CONFIG),
               device="cpu", seed=0)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, ppo_model) -> str:
    path = tmp_path_factory.mktemp("model") / "model.safetensors"
    path.write_bytes(policy_file_bytes(ppo_model.policy, CONFIG, "ppo", 0))
    return str(path)


def observations(config: HubConfig, batch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    env = ModEnHubVecEnv(batch, config=config)
    env.seed(seed)
    obs = env.reset()
    for _ in range(5):  # a few rounds so that the queue fills
        obs, *_ = env.step(np.ones((batch, config.request_slots + config.prefetch_slots), dtype=np.int64))
    return obs, env.action_masks()


def test_slot_policy__request_logits_follow_a_permutation_of_the_request_slots(model_file):
    policy = LearnedPolicy.load(model_file)
    obs, _ = observations(CONFIG, 4)
    k, width, choices = CONFIG.request_slots, len(REQUEST_FEATURES), CONFIG.k_max + 1
    permutation = np.array([3, 0, 7, 1, 6, 2, 5, 4])
    requests = obs[:, N_GLOBAL : N_GLOBAL + k * width].reshape(4, k, width)
    shuffled = obs.copy()
    shuffled[:, N_GLOBAL : N_GLOBAL + k * width] = requests[:, permutation].reshape(4, -1)
    logits = policy._logits(obs).reshape(4, -1, choices)[:, :k].numpy()
    logits_shuffled = policy._logits(shuffled).reshape(4, -1, choices)[:, :k].numpy()
    np.testing.assert_allclose(logits_shuffled, logits[:, permutation], atol=1e-5)


def test_masked_pool__ignores_absent_slots():
    encoded = th.tensor([[[1.0, 2.0], [5.0, -1.0], [100.0, 100.0]]])
    present = th.tensor([[1.0, 1.0, 0.0]])
    pooled = masked_pool(encoded, present)
    np.testing.assert_allclose(pooled.numpy(), [[3.0, 0.5, 5.0, 2.0]])
    assert masked_pool(encoded, th.zeros(1, 3)).abs().sum() == 0.0


def test_slot_features_extractor__rejects_a_layout_that_does_not_fit():
    env = ModEnHubVecEnv(1, config=CONFIG)
    with pytest.raises(ValueError, match="does not fit"):
        SlotFeaturesExtractor(env.observation_space, request_slots=4, prefetch_slots=2)


def test_maskable_slot_policy__learns_a_step_and_keeps_logits_per_slot(tmp_path):
    env = ModEnHubVecEnv(2, config=CONFIG)
    model = MaskablePPO(MaskableSlotActorCriticPolicy, env, n_steps=16, batch_size=32, n_epochs=1,
                        policy_kwargs=slot_policy_kwargs(CONFIG), device="cpu", seed=0)
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(32)
    assert any(not th.equal(a, b) for a, b in zip(before, model.policy.parameters(), strict=True))
    path = tmp_path / "maskable.safetensors"
    path.write_bytes(policy_file_bytes(model.policy, CONFIG, "maskable-ppo", model.num_timesteps))
    policy = LearnedPolicy.load(path)
    assert policy.num_timesteps == model.num_timesteps
    assert policy.algo == "maskable-ppo"
    obs, masks = observations(CONFIG, 3)
    actions, _ = policy.predict(obs, action_masks=masks)
    assert actions.shape == (3, CONFIG.request_slots + CONFIG.prefetch_slots)


def test_predict__respects_the_action_masks(model_file):
    policy = LearnedPolicy.load(model_file)
    obs, masks = observations(CONFIG, 8)
    for deterministic in (True, False):
        actions, _ = policy.predict(obs, action_masks=masks, deterministic=deterministic)
        allowed = masks.reshape(8, -1, CONFIG.k_max + 1)
        assert np.take_along_axis(allowed, actions[..., None], axis=2).all()


def test_predict__single_observation_matches_its_row_in_a_batch(model_file):
    policy = LearnedPolicy.load(model_file)
    obs, _ = observations(CONFIG, 3)
    batched, _ = policy.predict(obs)
    single, state = policy.predict(obs[1], state="kept")
    np.testing.assert_array_equal(single, batched[1])
    assert state == "kept"


def test_predict__wrong_observation_size_names_the_model(model_file):
    policy = LearnedPolicy.load(model_file)
    with pytest.raises(ValueError, match="model.safetensors: expected observations of size"):
        policy.predict(np.zeros((2, 7), dtype=np.float32))


def test_load__same_layout_at_another_n_fits(model_file):
    policy = LearnedPolicy.load(model_file, config=CONFIG.replace(n_qpus=128))
    assert policy.config.n_qpus == 8


def test_load__config_with_another_observation_size_is_rejected(model_file):
    with pytest.raises(ValueError, match=r"model\.safetensors: trained on observations of size 90"):
        LearnedPolicy.load(model_file, config=HubConfig.preset("hotspot"))


def test_load__missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.safetensors"):
        LearnedPolicy.load(tmp_path / "nothing.safetensors")


def test_load__text_file_is_not_a_model(tmp_path):
    path = tmp_path / "notes.safetensors"
    path.write_text("hello")
    with pytest.raises(ValueError, match="notes.safetensors: not a modenhub model file"):
        LearnedPolicy.load(path)


def test_load__truncated_model_is_rejected(model_file, tmp_path):
    data = open(model_file, "rb").read()
    path = tmp_path / "truncated.safetensors"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated.safetensors: not a modenhub model file"):
        LearnedPolicy.load(path)


def rewritten(model_file: str, tmp_path, change) -> str:
    """A copy of ``model_file`` with its header entry changed by ``change(header)``."""
    from safetensors.torch import load, save

    data = open(model_file, "rb").read()
    length = int.from_bytes(data[:8], "little")
    header = json.loads(json.loads(data[8 : 8 + length])["__metadata__"]["modenhub"])
    change(header)
    path = tmp_path / "changed.safetensors"
    path.write_bytes(save(load(data), metadata={"modenhub": json.dumps(header)}))
    return str(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda h: h.update(algo="dqn"), "unknown algorithm 'dqn'"),
        (lambda h: h.update(version=99), "format version 99"),
        (lambda h: h.update(format="pickle"), "'format' must be"),
        (lambda h: h["network"].update({"class": "os.system"}), "network class must be one of"),
        (lambda h: h["network"]["kwargs"].update(features_extractor_class="builtins.eval"),
         "features_extractor_class must be one of"),
        (lambda h: h["network"]["kwargs"].update(optimizer_class="Adam"), "unknown network arguments"),
        (lambda h: h["observation"].update(features=["x"] * 90), "observation layout"),
        (lambda h: h["config"].update(k_max=5), "action nvec"),
        (lambda h: h["network"]["kwargs"]["features_extractor_kwargs"].update(hidden=8), "weights do not fit"),
        (lambda h: h["network"]["kwargs"].update(slot_latent=10**9), r"slot_latent must hold layer widths in \[1, 4096\]"),
        (lambda h: h["network"]["kwargs"].update(net_arch=[64, "x"]), "net_arch must hold layer widths"),
    ],
)
def test_load__a_bad_header_is_refused_naming_the_file(model_file, tmp_path, change, message):
    path = rewritten(model_file, tmp_path, change)
    with pytest.raises(ValueError, match=f"changed.safetensors: .*{message}"):
        LearnedPolicy.load(path)


def test_load__model_file_round_trips_the_weights_and_actions(model_file, ppo_model):
    policy = LearnedPolicy.load(model_file)
    for name, tensor in ppo_model.policy.state_dict().items():
        assert th.equal(policy.network.state_dict()[name], tensor), name
    obs, masks = observations(CONFIG, 16)
    expected, _ = LearnedPolicy.from_model(ppo_model, CONFIG, "ppo").predict(obs, action_masks=masks)
    np.testing.assert_array_equal(policy.predict(obs, action_masks=masks)[0], expected)


# SB3 zips: pickles, refused unless trusted.


class _Marker:
    """Unpickling this creates the file ``path``: the stand-in for arbitrary code."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def malicious_zip(source_zip, path, marker) -> str:
    """``source_zip`` with a ``":serialized:"`` entry in ``data`` whose unpickling creates ``marker``."""
    with zipfile.ZipFile(source_zip) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    data = json.loads(entries["data"])
    data["policy_kwargs"] = {":type:": "<class 'dict'>",
                             ":serialized:": base64.b64encode(pickle.dumps(_Marker(str(marker)))).decode()}
    entries["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return str(path)


@pytest.fixture(scope="module")
def trusted_zip(tmp_path_factory, ppo_model) -> str:
    return str(sb3_zip(ppo_model, tmp_path_factory.mktemp("zip") / "model.zip", CONFIG, "ppo"))


def test_load__malicious_zip_is_refused_and_runs_nothing(trusted_zip, tmp_path):
    marker = tmp_path / "pwned"
    path = malicious_zip(trusted_zip, tmp_path / "evil.zip", marker)
    with pytest.raises(ValueError, match=r"evil.zip: refused: .*pickle.*--trust-pickle.*modenhub convert"):
        LearnedPolicy.load(path)
    assert not marker.exists()


def test_load__malicious_zip_renamed_as_a_model_file_runs_nothing(trusted_zip, tmp_path):
    marker = tmp_path / "pwned"
    path = malicious_zip(trusted_zip, tmp_path / "evil.safetensors", marker)
    with pytest.raises(ValueError, match="evil.safetensors: refused"):
        LearnedPolicy.load(path)
    assert not marker.exists()


def test_load__the_marker_is_real_when_pickle_is_trusted(trusted_zip, tmp_path):
    """The test above could fail: with trust_pickle the same file does run its code."""
    marker = tmp_path / "pwned"
    path = malicious_zip(trusted_zip, tmp_path / "evil.zip", marker)
    with pytest.raises(ValueError):
        LearnedPolicy.load(path, trust_pickle=True)
    assert marker.exists()


def test_load__trusted_zip_loads_and_converts_to_the_same_actions(trusted_zip, tmp_path):
    zipped = LearnedPolicy.load(trusted_zip, trust_pickle=True)
    converted = convert_zip(trusted_zip, tmp_path / "model.safetensors")
    obs, masks = observations(CONFIG, 16)
    np.testing.assert_array_equal(converted.predict(obs, action_masks=masks)[0],
                                  zipped.predict(obs, action_masks=masks)[0])
    assert converted.algo == "ppo" and converted.config == CONFIG


def test_load__foreign_zip_is_not_a_model_even_when_trusted(tmp_path):
    path = tmp_path / "foreign.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not a model")
    with pytest.raises(ValueError, match="foreign.zip: not a Stable-Baselines3 model"):
        LearnedPolicy.load(path, trust_pickle=True)


def test_load__trusted_sb3_zip_without_metadata_or_run_config_is_rejected(tmp_path):
    env = ModEnHubVecEnv(1, config=CONFIG)
    PPO("MlpPolicy", env, n_steps=8, batch_size=8, device="cpu").save(tmp_path / "plain.zip")
    with pytest.raises(ValueError, match="plain.zip: no modenhub.json inside and no config.json"):
        LearnedPolicy.load(tmp_path / "plain.zip", trust_pickle=True)


def test_policy_file__stores_an_mlp_policy_too(tmp_path):
    model = MaskablePPO("MlpPolicy", ModEnHubVecEnv(2, config=CONFIG), n_steps=8, batch_size=16, device="cpu",
                        policy_kwargs={"net_arch": [16, 16]}, seed=0)
    path = tmp_path / "mlp.safetensors"
    path.write_bytes(policy_file_bytes(model.policy, CONFIG, "maskable-ppo"))
    obs, masks = observations(CONFIG, 8)
    expected, _ = LearnedPolicy.from_model(model, CONFIG, "maskable-ppo").predict(obs, action_masks=masks)
    np.testing.assert_array_equal(LearnedPolicy.load(path).predict(obs, action_masks=masks)[0], expected)


def test_slot_policy__attempt_prior_makes_an_untrained_policy_launch_few():
    env = ModEnHubVecEnv(2, config=CONFIG)
    obs, masks = observations(CONFIG, 64)
    mean_attempts = []
    for prior in (0.0, 1.0):
        kwargs = {**slot_policy_kwargs(CONFIG), "attempt_prior": prior}
        model = PPO(SlotActorCriticPolicy, env, n_steps=8, batch_size=16, policy_kwargs=kwargs, device="cpu", seed=0)
        policy = LearnedPolicy.from_model(model, CONFIG, "ppo")
        actions, _ = policy.predict(obs, action_masks=masks, deterministic=False)
        mean_attempts.append(actions[masks.reshape(64, -1, CONFIG.k_max + 1)[..., 1]].mean())
    assert mean_attempts[1] < 0.8 < 1.5 < mean_attempts[0]  # uniform over 0..limit (often 4 here)


def test_heuristic_prior__a_strong_prior_makes_an_untrained_policy_act_as_the_heuristic(tmp_path):
    prior = ("single-request-dp", 50.0, CONFIG.to_dict())
    kwargs = slot_policy_kwargs(CONFIG)
    kwargs["features_extractor_kwargs"] = {**kwargs["features_extractor_kwargs"], "prior": prior}
    model = MaskablePPO(MaskableSlotActorCriticPolicy, ModEnHubVecEnv(2, config=CONFIG), n_steps=8, batch_size=16,
                        policy_kwargs=kwargs, device="cpu", seed=0)
    path = tmp_path / "prior.safetensors"
    path.write_bytes(policy_file_bytes(model.policy, CONFIG, "maskable-ppo"))
    obs, masks = observations(CONFIG, 64)
    expected, _ = make_policy("single-request-dp", CONFIG).predict(obs, action_masks=masks)
    assert expected[:, :2].sum() > 0  # the heuristic launches something to follow
    actions, _ = LearnedPolicy.load(path).predict(obs, action_masks=masks)  # the prior is saved with the model
    np.testing.assert_array_equal(actions, expected)


def test_convert_cli__needs_trust_pickle_then_writes_a_model_file(trusted_zip, tmp_path, capsys):
    from train.cli import main

    target = tmp_path / "converted.safetensors"
    with pytest.raises(SystemExit) as excinfo:
        main(["convert", trusted_zip, "--out", str(target)])
    assert "--trust-pickle" in str(excinfo.value.code) and not target.exists()
    main(["convert", trusted_zip, "--out", str(target), "--trust-pickle"])
    assert f"wrote {target}" in capsys.readouterr().out
    assert LearnedPolicy.load(target).algo == "ppo"


def test_slot_policy__reads_observation_version_1_and_its_file_keeps_the_layout(tmp_path):
    config = CONFIG.replace(observation_version=1)
    env = ModEnHubVecEnv(2, config=config)
    model = PPO(SlotActorCriticPolicy, env, n_steps=8, batch_size=16, policy_kwargs=slot_policy_kwargs(config),
                device="cpu", seed=0)
    extractor = model.policy.features_extractor
    assert extractor.version == 1
    assert extractor.request_encoder[0].in_features == 12 + 8  # a v1 request slot and the v1 globals
    path = tmp_path / "v1.safetensors"
    path.write_bytes(policy_file_bytes(model.policy, config, "ppo", 0))
    policy = LearnedPolicy.load(path)
    assert policy.config.observation_version == 1
    obs, masks = observations(config, 3)
    actions, _ = policy.predict(obs, action_masks=masks)
    assert actions.shape == (3, config.request_slots + config.prefetch_slots)
    with pytest.raises(ValueError, match="size"):
        policy.check_fits(CONFIG)  # the same scenario seen through version 0
