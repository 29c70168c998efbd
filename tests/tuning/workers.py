"""Job functions for runner tests, run inside worker processes: `measure.run_job`, except that
seed 13 crashes the process and seed 14 hangs."""

from __future__ import annotations

import os
import time

from frittata.tuning.measure import Job, Result, run_job

CRASH, HANG = 13, 14


def faulty(job: Job) -> Result:
    if job.seed == CRASH:
        os.abort()
    if job.seed == HANG:
        time.sleep(3600)
    return run_job(job)
