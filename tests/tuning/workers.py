"""A job function for runner tests, run inside worker processes: seed 13 crashes the process,
seed 14 hangs, any other seed answers at once with a fixed time (the runner is under test,
not the measurement)."""

from __future__ import annotations

import os
import time

from frittata.tuning.measure import Job, Result

CRASH, HANG = 13, 14
ANSWER = Result(1e-3, None)


def faulty(job: Job) -> Result:
    if job.seed == CRASH:
        os.abort()
    if job.seed == HANG:
        time.sleep(3600)
    return ANSWER
