"""Request DAG files: a :class:`~modenhub_env.circuits.dag.RequestDag` saved as JSON or as
an npz archive, and read back without Qiskit, networkx or pickle.

Both formats hold the same fields: ``format`` and ``version``, then every constructor
field of ``RequestDag`` (scalars and 1-D integer arrays; ``source`` a string). The
derived arrays (``pair_a``, ``pair_b``, ``indegree``, ``critical_path``) are not stored:
they are recomputed on loading, so a file cannot contradict itself. JSON files hold one
field a line.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path

import numpy as np

from modenhub_env.circuits.dag import RequestDag

FORMAT = "modenhub-request-dag"
VERSION = 1
SUFFIXES = (".json", ".npz")
#: Largest DAG file read [bytes].
MAX_DAG_BYTES = 512 * 2**20
#: Fields of a DAG file: the constructor fields of ``RequestDag``.
FIELDS = tuple(f.name for f in dataclasses.fields(RequestDag) if f.init)
SCALAR_FIELDS = ("n_qubits", "n_qpus", "qpu_capacity", "local_rounds", "local_depth", "local_gates",
                 "local_two_qubit_gates")
ARRAY_FIELDS = tuple(name for name in FIELDS if name not in SCALAR_FIELDS and name != "source")


def _suffix(path: Path) -> str:
    if path.suffix not in SUFFIXES:
        raise ValueError(f"{path}: a DAG file must end in one of {SUFFIXES}, got {path.suffix or 'no suffix'!r}")
    return path.suffix


def save_dag(dag: RequestDag, path: str | Path) -> Path:
    """Write ``dag`` to ``path`` (``.json`` or ``.npz``, by its suffix) and return the path."""
    path = Path(path)
    suffix = _suffix(path)
    fields = {"format": FORMAT, "version": VERSION}
    fields.update({name: getattr(dag, name) for name in FIELDS})
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".json":
        lines = [f"  {json.dumps(name)}: {json.dumps(_plain(value))}" for name, value in fields.items()]
        path.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    else:
        with path.open("wb") as handle:
            np.savez_compressed(handle, **{name: np.asarray(value) for name, value in fields.items()})
    return path


def _plain(value: object) -> object:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def load_dag(path: str | Path) -> RequestDag:
    """Read a DAG file written by :func:`save_dag` (or by hand in the same format).

    :raises ValueError: the file is unreadable, too large (over ``MAX_DAG_BYTES``, 512
        MiB), not valid JSON (naming the line) or npz, of another format or version, or a
        field is missing, unknown or invalid (naming the field); always naming the file.
    """
    path = Path(path)
    suffix = _suffix(path)
    try:
        size = path.stat().st_size
        if size > MAX_DAG_BYTES:
            raise ValueError(f"{path}: {size} bytes; a DAG file holds at most {MAX_DAG_BYTES} bytes")
        fields = _read_json(path) if suffix == ".json" else _read_npz(path)
    except OSError as err:
        raise ValueError(f"{path}: cannot read the DAG file ({err.strerror or err})") from None
    _check_header(path, fields)
    try:
        return RequestDag(**{name: fields[name] for name in FIELDS})
    except ValueError as err:
        raise ValueError(f"{path}: field {err}") from None


def _read_json(path: Path) -> dict[str, object]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text (byte {err.start + 1})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:{err.lineno}: not valid JSON ({err.msg}, column {err.colno})") from None
    except ValueError as err:  # e.g. an integer past Python's digit limit
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a DAG file must hold a JSON object, got {type(data).__name__}")
    for name in ARRAY_FIELDS:
        if name in data and not isinstance(data[name], list):
            raise ValueError(f"{path}: field {name} must be a list of integers, got {type(data[name]).__name__}")
    return data


def _read_npz(path: Path) -> dict[str, object]:
    if not zipfile.is_zipfile(path):  # np.load would try it as a pickle
        raise ValueError(f"{path}: not an npz archive (not a zip file)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, EOFError) as err:
        raise ValueError(f"{path}: not an npz archive ({err})") from None
    except ValueError as err:  # an object array, which would need pickle
        raise ValueError(f"{path}: not a plain npz archive ({err})") from None
    fields: dict[str, object] = {}
    for name, array in arrays.items():
        if name in SCALAR_FIELDS or name == "version":
            if array.ndim != 0 or array.dtype.kind not in "iu":
                raise ValueError(f"{path}: field {name} must be an integer scalar, got {array.dtype} of shape {array.shape}")
            fields[name] = int(array)
        elif name in ("source", "format"):
            if array.ndim != 0 or array.dtype.kind != "U":
                raise ValueError(f"{path}: field {name} must be a string, got {array.dtype} of shape {array.shape}")
            fields[name] = str(array)
        else:
            fields[name] = array
    return fields


def _check_header(path: Path, fields: dict[str, object]) -> None:
    if fields.get("format") != FORMAT:
        raise ValueError(f"{path}: field format must be {FORMAT!r}, got {fields.get('format')!r}")
    if fields.get("version") != VERSION or isinstance(fields.get("version"), bool):
        raise ValueError(f"{path}: field version must be {VERSION}, got {fields.get('version')!r}")
    missing = [name for name in FIELDS if name not in fields]
    if missing:
        raise ValueError(f"{path}: field {missing[0]} is missing (a DAG file holds {list(FIELDS)})")
    unknown = sorted(set(fields) - set(FIELDS) - {"format", "version"})
    if unknown:
        raise ValueError(f"{path}: field {unknown[0]} is not a DAG field (allowed: {list(FIELDS)})")
