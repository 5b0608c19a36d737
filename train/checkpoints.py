"""Training checkpoints that hold no pickle: ``checkpoints/step_<N>.safetensors``.

One safetensors file per checkpoint, written atomically (``train.files.write_atomic``):

* tensors ``policy/<name>`` (the policy's ``state_dict``), ``optimizer/<i>/<name>`` (the
  optimizer's per-parameter state), ``rng/torch`` (torch's generator state, uint8) and,
  with ``--norm-reward``, ``vec_normalize/<name>`` (VecNormalize's return statistics);
* in its JSON header, the entry ``"modenhub-checkpoint"``: format and version, the step,
  SB3's update count, wall seconds, the optimizer's parameter groups and scalar state, the
  Python and NumPy generator states, and VecNormalize's count.

Reading parses JSON and copies tensors (``safetensors``), nothing more: a damaged or
hostile file gives a ``ValueError`` naming it, never runs code.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_NAME = "modenhub-checkpoint"
FORMAT_VERSION = 1
SUFFIX = ".safetensors"
MAX_CHECKPOINT_BYTES = 1 << 31  # [bytes] a larger file is refused before reading


def checkpoint_path(folder: Path, step: int) -> Path:
    """``folder/step_<step>.safetensors``."""
    return folder / f"step_{step}{SUFFIX}"


def checkpoint_bytes(model: Any, step: int, wall_seconds: float, vec_normalize: Any = None) -> bytes:
    """A checkpoint of ``model`` (an SB3 algorithm) and the global generators.

    :param step: the model's step count.
    :param wall_seconds: training wall time so far [s].
    :param vec_normalize: the ``VecNormalize`` wrapper whose statistics to keep, if any.
    """
    import torch as th
    from safetensors.torch import save

    tensors = {f"policy/{k}": v.detach().cpu().clone().contiguous() for k, v in model.policy.state_dict().items()}
    optimizer = model.policy.optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for index, entries in optimizer["state"].items():
        for name, value in entries.items():
            if isinstance(value, th.Tensor):
                tensors[f"optimizer/{index}/{name}"] = value.detach().cpu().clone().contiguous()
            else:
                scalars.setdefault(str(index), {})[name] = value
    tensors["rng/torch"] = th.get_rng_state().clone()
    header: dict[str, Any] = {
        "format": FORMAT_NAME, "version": FORMAT_VERSION, "step": int(step), "n_updates": int(model._n_updates),
        "wall_seconds": float(wall_seconds),
        "optimizer": {"param_groups": optimizer["param_groups"], "scalars": scalars},
        "rng": _generator_states(),
        "vec_normalize": None,
    }
    if vec_normalize is not None:
        rms = vec_normalize.ret_rms
        tensors["vec_normalize/ret_mean"] = th.as_tensor(np.asarray(rms.mean, dtype=np.float64)).clone()
        tensors["vec_normalize/ret_var"] = th.as_tensor(np.asarray(rms.var, dtype=np.float64)).clone()
        tensors["vec_normalize/returns"] = th.as_tensor(np.asarray(vec_normalize.returns, dtype=np.float64)).clone()
        header["vec_normalize"] = {"ret_count": float(rms.count)}
    return save(tensors, metadata={FORMAT_NAME: json.dumps(header, default=_plain)})


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON: {value!r}")


def _generator_states() -> dict[str, Any]:
    # SB3 draws from (and set_random_seed seeds) the legacy global generators.
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002
    return {"python": [version, list(internal), gauss],
            "numpy": [name, [int(k) for k in keys], int(pos), int(has_gauss), float(cached)]}


def read_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and tensors of a checkpoint file.

    :raises ValueError: not a checkpoint, damaged, or of another format or version,
        naming ``path``.
    """
    size = path.stat().st_size
    if size > MAX_CHECKPOINT_BYTES:
        raise ValueError(f"{path}: {size} bytes, more than a checkpoint holds ({MAX_CHECKPOINT_BYTES})")
    try:
        return read_checkpoint_bytes(path.read_bytes())
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def read_checkpoint_bytes(data: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and tensors of checkpoint bytes (:func:`read_checkpoint` without the file)."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        tensors = load(data)
        length = int.from_bytes(data[:8], "little")
        header = json.loads(json.loads(data[8 : 8 + length])["__metadata__"][FORMAT_NAME])
    except (SafetensorError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise ValueError("not a modenhub checkpoint (damaged, or not a safetensors file)") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME or header.get("version") != FORMAT_VERSION:
        raise ValueError(f"checkpoint format must be {FORMAT_NAME!r} version {FORMAT_VERSION}")
    return header, tensors


def restore(model: Any, header: dict[str, Any], tensors: dict[str, Any], vec_normalize: Any = None) -> None:
    """Load a checkpoint into ``model`` (built with the run's settings), its optimizer,
    ``vec_normalize`` and the global generators.

    :raises ValueError: the checkpoint does not fit the model (the caller names the file).
    """
    import torch as th

    try:
        policy = {k.removeprefix("policy/"): v for k, v in tensors.items() if k.startswith("policy/")}
        model.policy.load_state_dict(policy, strict=True)
        state: dict[int, dict[str, Any]] = {}
        for key, value in tensors.items():
            if key.startswith("optimizer/"):
                _, index, name = key.split("/", 2)
                state.setdefault(int(index), {})[name] = value
        for index, entries in header["optimizer"]["scalars"].items():
            state.setdefault(int(index), {}).update(entries)
        model.policy.optimizer.load_state_dict({"state": state, "param_groups": header["optimizer"]["param_groups"]})
        model.num_timesteps = int(header["step"])
        model._n_updates = int(header["n_updates"])
        if vec_normalize is not None:
            if header.get("vec_normalize") is None:
                raise ValueError("holds no VecNormalize statistics, which --norm-reward needs")
            rms = vec_normalize.ret_rms
            rms.mean = tensors["vec_normalize/ret_mean"].numpy().copy()
            rms.var = tensors["vec_normalize/ret_var"].numpy().copy()
            rms.count = float(header["vec_normalize"]["ret_count"])
            vec_normalize.returns = tensors["vec_normalize/returns"].numpy().copy()
        python, numpy_state = header["rng"]["python"], header["rng"]["numpy"]
        rng_torch = tensors["rng/torch"]
    except (RuntimeError, KeyError, TypeError, ValueError, IndexError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"does not fit this run ({first})") from None
    th.set_num_threads(1)
    random.setstate((python[0], tuple(python[1]), python[2]))
    np.random.set_state((numpy_state[0], np.asarray(numpy_state[1], dtype=np.uint32), *numpy_state[2:]))  # noqa: NPY002
    th.set_rng_state(rng_torch)


def checkpoint_steps(folder: Path) -> list[int]:
    """Steps of the checkpoint files in ``folder``, newest first."""
    steps = []
    for path in folder.glob(f"step_*{SUFFIX}"):
        try:
            steps.append(int(path.name[len("step_") : -len(SUFFIX)]))
        except ValueError:
            continue
    return sorted(steps, reverse=True)
