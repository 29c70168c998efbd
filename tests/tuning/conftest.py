"""One local tuning run of the small convolution, shared by the tuner and fleet tests (each
measurement costs a kernel build; CI's budget for these tests is a minute)."""

from __future__ import annotations

import pytest

from frittata.tuning import LocalRunner, tune
from tests.tuning.programs import conv_program

LOCAL_RUN = {"trials": 4, "batch": 2, "threads": 1, "search": "random", "seed": 3, "confirm": False}


@pytest.fixture(scope="package")
def local_run(tmp_path_factory):
    """(the log of a 4-trial local run, its report, the progress calls it made)."""
    path = tmp_path_factory.mktemp("tuning") / "local.jsonl"
    seen: list[tuple[int, int]] = []
    with LocalRunner() as runner:
        report = tune(conv_program(), records=path, runner=runner,
                      progress=lambda task, done, budget: seen.append((done, budget)), **LOCAL_RUN)
    return path, report, seen
