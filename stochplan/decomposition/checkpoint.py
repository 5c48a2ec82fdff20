"""Benders checkpoints: every priced plan with its day values and subgradients (the cuts), the incumbent,
bounds, history and the loop's stabilisation state, as one JSON file written atomically (temp + rename).

Replaying the priced plans into a fresh master rebuilds exactly the cuts the interrupted run had.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from ..errors import InputError
from ..result import json_default

NAME = "checkpoint.json"
VERSION = 1


def case_fingerprint(case_path: Path) -> str:
    return hashlib.sha256(Path(case_path).read_bytes()).hexdigest()[:16]


def save(directory: Path, state: dict) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / NAME
    fd, tmp = tempfile.mkstemp(prefix=f".{NAME}.", dir=directory)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump({"version": VERSION, **state}, handle, default=json_default)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def load(directory: Path, fingerprint: str) -> dict:
    path = Path(directory) / NAME
    if not path.is_file():
        raise InputError("--resume", f"no {NAME} in '{directory}'; give the output directory of an earlier run")
    try:
        state = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError("--resume", f"'{path}' is not a readable checkpoint ({exc})") from None
    if state.get("version") != VERSION:
        raise InputError("--resume", f"'{path}' has checkpoint version {state.get('version')}, expected {VERSION}")
    if state.get("case_fingerprint") != fingerprint:
        raise InputError("--resume", f"'{path}' was written for another case file (or it changed since)")
    return state

