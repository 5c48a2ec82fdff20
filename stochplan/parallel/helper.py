"""Side work on a free core: a task run in a forked helper process while this process goes on.

Used where a run has work that needs none of its later results: the business-as-usual baseline (it does not
depend on the plan) while Benders runs, in the background beside forked workers — and, where the loop left it too
little idle time, a second helper from the other end of its days (`BothEnds`); half of the figures while the
tables are written. Only where forking is safe: a process that started MPI is never forked (on some
interconnects a forked child corrupts the parent's registered memory), so MPI runs keep such work on their ranks.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import time
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

    def ready(self) -> bool:
        """The task has returned (or failed): `result()` will not wait."""
        return self._receive.poll()

    def cancel(self) -> None:
        """End the helper if it still runs (its work is not needed any more)."""
        if self._child.is_alive():
            self._child.terminate()
        self._child.join()
        self._receive.close()


class BothEnds:
    """Units 0 … n−1 shared by forked processes without doing any twice: one takes them from the front (a background
    helper, started early), another from the back (forked later, when the first turns out to have too much left),
    until they meet. Create it before forking: its counters live in memory the forks share."""

    def __init__(self, units: int):
        context = multiprocessing.get_context("fork")
        self._lock = context.Lock()
        self._ends = context.RawArray("i", [0, units - 1])     # next from the front, next from the back
        self._timed = context.RawArray("d", 3)                 # the front's units: count, first's s, the others' s

    def left(self) -> int:
        with self._lock:
            return max(0, self._ends[1] - self._ends[0] + 1)

    def run(self, unit: Callable[[int], object], back: bool = False) -> dict[int, object]:
        """unit(u) for every u this process takes, from the front or the `back`, until none is left → by unit."""
        done = {}
        while (u := self._take(back)) is not None:
            start = time.perf_counter()
            done[u] = unit(u)
            if not back:
                self._time(time.perf_counter() - start)
        return done

    def worth_a_second(self) -> bool:
        """A process from the back would end the units sooner (`second_pays`, from the front's times)."""
        return second_pays(self.left(), *self._timed)

    def _take(self, back: bool) -> int | None:
        with self._lock:
            front, last = self._ends
            if front > last:
                return None
            self._ends[1 if back else 0] = last - 1 if back else front + 1
            return last if back else front

    def _time(self, seconds: float) -> None:
        count = self._timed[0]
        self._timed[1 if count == 0 else 2] += seconds
        self._timed[0] = count + 1


def second_pays(left: int, timed: float, first_s: float, rest_s: float) -> bool:
    """A second process from the back ends `left` units sooner than the front alone: at least two are left, and
    they cost more than its set-up, as the front measured them (`timed` units: the first `first_s` — the model is
    built then — the others `rest_s` together; the set-up is the first's time beyond a later one's). Before the
    front has timed two units, yes."""
    if left < 2 or timed < 2:
        return left >= 2
    unit_s = rest_s / (timed - 1)
    return left * unit_s > first_s - unit_s


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
