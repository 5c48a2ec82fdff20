"""Output directories a user can trust: a run writes only inside a directory it owns, under a lock.

A directory is owned by stochplan when it holds `.stochplan-manifest.json`, the list of files stochplan
runs wrote there. `claim` refuses, before any solve, an `--out` that is the working directory or one of its
parents, a regular file, not writable, already locked by another run, or not empty and not owned. A claimed
directory is locked (`flock` on `.stochplan.lock`, which holds the pid) until the process ends.

Files are written into a staging folder inside the directory and moved into place at the end (`publish`),
so a failed or stopped run leaves the previous outputs as they were; files an earlier stochplan run wrote and
this one does not (e.g. validation.csv after `--no-validate`) are removed with the manifest's say-so, and
nothing else is ever touched.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from . import interrupts
from .errors import InputError

MANIFEST = ".stochplan-manifest.json"
LOCK = ".stochplan.lock"
STAGING_PREFIX = ".staging-"
KEEP_ON_PUBLISH = ("checkpoint.json",)     # a run's checkpoint outlives its results (resume, audit)


def check(path: Path, field: str = "--out") -> Path:
    """Everything that can be said about `path` without writing: → its absolute path, or InputError."""
    path = Path(os.path.abspath(path))
    resolved = path.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        raise InputError(field, f"'{path}' is the working directory or one of its parents; give a new "
                                "directory for the outputs (e.g. results/<name>)")
    if resolved.exists() and not resolved.is_dir():
        raise InputError(field, f"'{path}' is a file, not a directory; give a directory for the outputs")
    existing = next(p for p in (resolved, *resolved.parents) if p.exists())
    if not existing.is_dir():
        raise InputError(field, f"'{existing}' is a file, so '{path}' cannot be created")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(field, f"'{existing}' is not writable; choose a directory you can write to")
    if resolved.is_dir() and not (resolved / MANIFEST).is_file() and any(resolved.iterdir()):
        raise InputError(field, f"'{path}' is not empty and was not written by stochplan; give a new or empty "
                                "directory (stochplan never deletes files it did not write)")
    return path


class OutputDir:
    """A directory this process owns and has locked. Create with `claim`."""

    def __init__(self, path: Path, lock_fd: int, created: bool):
        self.path, self._lock_fd, self.created = path, lock_fd, created

    @classmethod
    def claim(cls, path: Path, field: str = "--out") -> OutputDir:
        path = check(path, field)
        created = not path.exists()
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise InputError(field, f"'{path}' is in use by another stochplan run (pid {holder}); wait for it "
                                        "to end or choose another directory") from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        out = cls(path, fd, created)
        if not (path / MANIFEST).is_file():
            out._write_manifest([])
        for stale in path.glob(f"{STAGING_PREFIX}*"):       # staging left by a killed run of ours
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)
        return out

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def abandon(self) -> None:
        """After an input error: remove the directory again if this run created it and wrote nothing."""
        if self.created and not self.owned():
            for name in (MANIFEST, LOCK):
                (self.path / name).unlink(missing_ok=True)
            self.release()
            try:
                self.path.rmdir()
            except OSError:
                pass

    # ------------------------------------------------------------------ manifest

    def owned(self) -> list[str]:
        try:
            return list(json.loads((self.path / MANIFEST).read_text()).get("files", []))
        except (OSError, ValueError):
            return []

    def _write_manifest(self, files) -> None:
        tmp = self.path / f"{MANIFEST}.tmp"
        tmp.write_text(json.dumps({"written_by": "stochplan", "files": sorted(set(files))}, indent=1) + "\n")
        os.replace(tmp, self.path / MANIFEST)

    def register(self, *names: str) -> None:
        """Record files this run writes directly (the checkpoint) before it writes them."""
        owned = self.owned()
        if not set(names) <= set(owned):
            self._write_manifest(owned + list(names))

    # ------------------------------------------------------------------ writing

    @contextmanager
    def publish(self, replace_all: bool = True):
        """Yield a staging folder; on success its files replace this directory's outputs.

        With `replace_all`, files earlier stochplan runs wrote here and this one does not are removed (the
        checkpoint excepted); otherwise only the staged files are replaced. On any failure or stop the
        staging folder is removed and the directory is as it was."""
        staging = self.path / f"{STAGING_PREFIX}{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            yield staging
            with interrupts.deferred():        # a stop now would leave a mix of two runs' files
                new = sorted(p.name for p in staging.iterdir())
                old = self.owned()
                self._write_manifest(old + new)
                for name in new:
                    os.replace(staging / name, self.path / name)
                if replace_all:
                    for name in set(old) - set(new) - set(KEEP_ON_PUBLISH):
                        (self.path / name).unlink(missing_ok=True)
                    self._write_manifest([n for n in old if n in KEEP_ON_PUBLISH and (self.path / n).exists()]
                                         + new)
                staging.rmdir()
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
