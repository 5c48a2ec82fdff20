"""Side work on a free core: a task run in a forked helper process while this process goes on.

Used where a single process has work that needs none of its later results (the figures, while it writes the
tables). Only where forking is safe: a process that started MPI is never forked (on some interconnects a
forked child corrupts the parent's registered memory), so MPI runs keep everything on rank 0.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from . import under_launcher


def helper_available() -> bool:
    """A helper may be forked here and has a core of its own: MPI is not started in this process (no launcher)
    and the process may run on more than one core."""
    return not under_launcher() and len(os.sched_getaffinity(0)) > 1


@contextmanager
def alongside(task: Callable[[], None], helper: bool) -> Iterator[None]:
    """Run `task` in a forked helper while the body runs; wait for it when the body ends. A failed task raises
    RuntimeError here with the helper's traceback; a failed or stopped body ends the helper first. Without
    `helper`, `task` runs in this process after the body (the same files, one after another)."""
    if not helper:
        yield
        task()
        return
    context = multiprocessing.get_context("fork")    # the child shares the parent's data: nothing is pickled
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_run, args=(task, send), daemon=True)
    child.start()
    send.close()
    try:
        yield
        try:
            failure = receive.recv()
        except EOFError:                              # ended without a word: killed
            failure = ""
        child.join()
        failure = failure or (None if failure is None else f"ended with exit code {child.exitcode}")
    except BaseException:
        child.terminate()
        child.join()
        raise
    finally:
        receive.close()
    if failure is not None:
        raise RuntimeError(f"side work in a helper process failed:\n{failure}")


def _run(task: Callable[[], None], send) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)      # a Ctrl-C reaches the whole process group: the parent
    signal.signal(signal.SIGTERM, signal.SIG_DFL)     # decides, and ends the helper if it stops
    try:
        task()
    except BaseException:
        send.send(traceback.format_exc())
    else:
        send.send(None)
    finally:
        send.close()
