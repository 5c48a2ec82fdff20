"""Side work on a free core: a task run in a forked helper process while this process goes on.

Used where a run has work that needs none of its later results: the business-as-usual baseline (it does not
depend on the plan) while Benders runs, in the background beside forked workers; half of the figures while the
tables are written. Only where forking is safe: a process that started MPI is never forked (on some
interconnects a forked child corrupts the parent's registered memory), so MPI runs keep such work on their ranks.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from . import can_fork, usable_cores


def helper_available() -> bool:
    """A helper may be forked here (`can_fork`) and has a core of its own."""
    return can_fork() and usable_cores() > 1


class Helper:
    """`task()` running in a forked helper process from now on; `result()` waits for its return value."""

    def __init__(self, task: Callable[[], object], background: bool = False):
        """`background`: the task runs only on CPU time nothing else wants (Linux's SCHED_IDLE): beside forked
        workers that have a core each, it must not slow them down. Measured on the default case (baseline beside
        two workers, four runs each): at nice 19 the loop took 0.39 s longer, at SCHED_IDLE 0.06 s (noise)."""
        context = multiprocessing.get_context("fork")   # the child shares the parent's data: nothing is pickled
        self._receive, send = context.Pipe(duplex=False)
        self._child = context.Process(target=_run, args=(task, send, background), daemon=True)
        self._child.start()
        send.close()

    def result(self):
        """Wait for the task → its value (pickled back). Its failure raises RuntimeError with the helper's
        traceback; a stop while waiting ends the helper."""
        try:
            ok, value = self._receive.recv()
        except EOFError:                                 # ended without a word: killed
            self._child.join()
            ok, value = False, f"ended with exit code {self._child.exitcode}"
        except BaseException:
            self.cancel()
            raise
        self.cancel()
        if not ok:
            raise RuntimeError(f"side work in a helper process failed:\n{value}")
        return value

    def cancel(self) -> None:
        """End the helper if it still runs (its work is not needed any more)."""
        if self._child.is_alive():
            self._child.terminate()
        self._child.join()
        self._receive.close()


@contextmanager
def alongside(task: Callable[[], None], helper: bool) -> Iterator[None]:
    """Run `task` in a forked helper while the body runs; wait for it when the body ends. A failed task raises
    RuntimeError here with the helper's traceback; a failed or stopped body ends the helper first. Without
    `helper`, `task` runs in this process after the body (the same files, one after another)."""
    if not helper:
        yield
        task()
        return
    side = Helper(task)
    try:
        yield
    except BaseException:
        side.cancel()
        raise
    side.result()


def _lowest_priority() -> None:
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):        # not Linux, or refused (a container's seccomp): the lowest nice value
        os.nice(19)


def _run(task: Callable[[], object], send, background: bool = False) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)      # a Ctrl-C reaches the whole process group: the parent
    signal.signal(signal.SIGTERM, signal.SIG_DFL)     # decides, and ends the helper if it stops
    if background:
        _lowest_priority()
    try:
        reply = (True, task())
    except BaseException:
        reply = (False, traceback.format_exc())
    send.send(reply)
    send.close()
