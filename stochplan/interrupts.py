"""SIGINT and SIGTERM for the whole command: one line and the right exit code, never a traceback.

`install()` (once, in the CLI) makes both signals raise `Interrupted` wherever the program is, and remember
that they came: code that swallows exceptions (SimBench's loader has bare `except:`) cannot lose a stop,
because `check()` raises it again. Inside `deferred()` a signal is only remembered, and the code polls
`requested()` at a safe point: the Benders loop finishes its iteration and writes its checkpoint, an output
directory finishes moving its files into place.
"""
from __future__ import annotations

import signal
from contextlib import contextmanager

EXIT_CODES = {"SIGINT": 130, "SIGTERM": 143}

_state = {"requested": None, "deferred": 0}


class Interrupted(BaseException):
    """A stop asked for by a signal (a BaseException, like KeyboardInterrupt: `except Exception` lets it by)."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name
        self.code = EXIT_CODES[name]


def _handler(signum, _frame) -> None:
    name = signal.Signals(signum).name
    _state["requested"] = _state["requested"] or name
    if not _state["deferred"]:
        raise Interrupted(name)


def install() -> dict:
    """Route SIGINT and SIGTERM here; → the previous handlers, for `restore`."""
    _state["requested"] = None
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, _handler)
    return previous


def restore(previous: dict) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
    _state["requested"] = None


def ignore() -> None:
    """Serving ranks: launchers forward signals to every rank; rank 0 decides when the job stops."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


def requested() -> str | None:
    """The name of the first signal received ('SIGINT', 'SIGTERM'), or None."""
    return _state["requested"]


def check() -> None:
    """Raise a stop that came while the signal was deferred or swallowed by someone else's code."""
    if _state["requested"] and not _state["deferred"]:
        raise Interrupted(_state["requested"])


@contextmanager
def deferred():
    """Signals are only recorded inside; a stop asked for inside is raised on leaving (outermost level)."""
    _state["deferred"] += 1
    try:
        yield
    finally:
        _state["deferred"] -= 1
    check()
