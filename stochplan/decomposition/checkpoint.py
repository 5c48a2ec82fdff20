"""Benders checkpoints: every priced plan with its day values and subgradients (the cuts), the incumbent,
bounds, history and the loop's stabilisation state, as one JSON file written atomically (temp + rename).

Replaying the priced plans into a fresh master rebuilds exactly the cuts the interrupted run had.

A checkpoint carries the fingerprint of everything that defines the problem — stochplan's version, the case
file, every file it points to (by content), the data packages built-in sources come from, and the command-line
overrides (`--k`) — and a resume refuses any difference, naming it. The state is checked against its schema
before use: a damaged file is an input error, never a traceback or a silently different run.
"""
from __future__ import annotations

import hashlib
import json
import os
from importlib import metadata
from pathlib import Path

import numpy as np

from .. import __version__
from ..config import Case
from ..errors import InputError
from ..outdir import STAGING_PREFIX
from ..result import strict

NAME = "checkpoint.json"
VERSION = 3
INFINITIES = {"Infinity": float("inf"), "-Infinity": float("-inf")}


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _package(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def referenced_files(case: Case) -> list[Path]:
    """The files a case points to: a network file, a profile CSV, a session CSV."""
    files = []
    if not case.network.source.startswith(("pandapower:", "simbench:")):
        files.append(Path(case.network.source))
    if case.scenarios.source == "year" and case.profiles.source == "csv":
        files.append(Path(case.profiles.csv))
    if case.ev.sessions_csv:
        files.append(Path(case.ev.sessions_csv))
    return files


def fingerprint(case: Case, overrides: dict) -> dict:
    """What the problem is made of; two runs with equal fingerprints solve the same problem."""
    data = {}
    if case.network.source.startswith("pandapower:"):
        data["pandapower"] = _package("pandapower")
    if case.network.source.startswith("simbench:") or (case.scenarios.source == "year"
                                                       and case.profiles.source == "simbench"):
        data["simbench"] = _package("simbench")
    return {"stochplan": __version__,
            "case_file": _sha(case.path) if Path(case.path).is_file() else None,
            "files": {str(p): _sha(p) for p in referenced_files(case) if p.is_file()},
            "data_packages": data,
            "overrides": {k: v for k, v in overrides.items()}}


def save(directory: Path, state: dict) -> Path:
    directory = Path(directory)
    target = directory / NAME
    tmp = directory / f"{STAGING_PREFIX}{NAME}.{os.getpid()}"     # removed by the next claim if we are killed
    try:
        with open(tmp, "w") as handle:
            # standard JSON: the bounds' infinities (before the first master solve) are written as strings
            json.dump(strict({"version": VERSION, **state}, nonfinite=lambda v: "Infinity" if v > 0 else "-Infinity"),
                      handle, allow_nan=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def load(directory: Path, expected: dict) -> dict:
    """Read DIR/checkpoint.json and refuse it unless it was written for the problem `expected` describes."""
    path = Path(directory) / NAME
    if not path.is_file():
        raise InputError("--resume", f"no {NAME} in '{directory}'; give the output directory of an earlier run")
    try:
        state = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError("--resume", f"'{path}' is not a readable checkpoint ({exc})") from None
    if not isinstance(state, dict) or state.get("version") != VERSION:
        got = state.get("version") if isinstance(state, dict) else None
        raise InputError("--resume", f"'{path}' has checkpoint version {got}, this stochplan writes {VERSION}; "
                                     "start a new run")
    compare_fingerprint(path, state.get("fingerprint"), expected)
    return state


def compare_fingerprint(path: Path, saved, expected: dict) -> None:
    if not isinstance(saved, dict):
        raise InputError("--resume", f"'{path}' is damaged: no fingerprint")
    if saved.get("stochplan") != expected["stochplan"]:
        raise InputError("--resume", f"'{path}' was written by stochplan {saved.get('stochplan')}, this is "
                                     f"{expected['stochplan']}; start a new run")
    if saved.get("case_file") != expected["case_file"]:
        raise InputError("--resume", f"'{path}' was written for another case file (or it changed since)")
    if saved.get("files") != expected["files"]:
        changed = sorted(set(saved.get("files") or {}) ^ set(expected["files"])) or sorted(
            f for f in expected["files"] if saved["files"].get(f) != expected["files"][f])
        raise InputError("--resume", f"'{path}' was written for other input data: '{changed[0]}' changed since "
                                     "(or the case points to another file)")
    if saved.get("data_packages") != expected["data_packages"]:
        raise InputError("--resume", f"'{path}' was written with data packages {saved.get('data_packages')}, "
                                     f"installed now: {expected['data_packages']}; start a new run")
    for key, value in expected["overrides"].items():
        before = (saved.get("overrides") or {}).get(key)
        if before != value:
            how = f"without --{key}" if before is None else f"with --{key} {before}"
            raise InputError(f"--{key}", f"the checkpoint in '{path.parent}' was made {how}; continue it {how}")


# --------------------------------------------------------------------------- schema


class Schema:
    """Checks a loaded state against the shapes the run expects; every error names the field."""

    def __init__(self, path: Path, n_x: int, n_days: int, n_sites: int):
        self.path, self.n_x, self.n_days, self.n_sites = path, n_x, n_days, n_sites

    def fail(self, field: str, problem: str):
        raise InputError("--resume", f"'{self.path}' is damaged: {field} {problem}; start a new run")

    def get(self, data: dict, key: str, field: str):
        if not isinstance(data, dict) or key not in data:
            self.fail(f"{field}.{key}" if field else key, "is missing")
        return data[key]

    def number(self, value, field: str, allow_inf: bool = True) -> float:
        value = INFINITIES.get(value, value) if isinstance(value, str) else value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(field, f"must be a number, got {value!r}")
        if np.isnan(value) or (not allow_inf and not np.isfinite(value)):
            self.fail(field, f"must be finite, got {value}")
        return float(value)

    def vector(self, value, length: int, field: str, optional: bool = False):
        if value is None and optional:
            return None
        if not isinstance(value, list) or len(value) != length:
            self.fail(field, f"must be a list of {length} numbers")
        return np.array([self.number(v, f"{field}[{i}]", allow_inf=False) for i, v in enumerate(value)])

    def matrix(self, value, shape: tuple[int, int], field: str):
        if not isinstance(value, list) or len(value) != shape[0]:
            self.fail(field, f"must be {shape[0]} rows of {shape[1]} numbers")
        return np.array([self.vector(row, shape[1], f"{field}[{i}]") for i, row in enumerate(value)]).reshape(shape)
