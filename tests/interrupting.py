"""Run `stochplan` and send this very process a signal at a chosen point (for the stop tests).

    python tests/interrupting.py SIGNAL POINT -- plan CASE --out DIR ...

POINT `loading`: while the feeder is read, inside a `try: … except: pass` — what SimBench's loader does with
its bare `except:` — so the stop is swallowed there and must still end the run. POINT `ac-check`: at the
start of the AC power-flow check, after Benders has converged."""
import os
import signal
import sys
import time

import stochplan.instance as instance
import stochplan.workflows.validation as validation
from stochplan.cli import main

sig, point = getattr(signal, sys.argv[1]), sys.argv[2]
user_process = os.getpid()                # the one a user signals, also when a forked worker reaches the point


def send():
    os.kill(user_process, sig)
    time.sleep(0.2)                       # the handler runs here


if point == "loading":
    real_load_net = instance.load_net

    def load_net(source):
        try:
            send()
        except:  # noqa: E722 — the swallowing this test is about
            pass
        return real_load_net(source)

    instance.load_net = load_net
elif point == "ac-check":                  # the first day's check (on the rank that owns it, after convergence)
    real_check = validation.DayCheck.__call__

    def check(self, d, solution):
        if d == 0:
            send()
        return real_check(self, d, solution)

    validation.DayCheck.__call__ = check
else:
    raise SystemExit(f"unknown point {point}")

sys.exit(main(sys.argv[4:]))
