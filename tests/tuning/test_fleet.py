"""The Ray fleet runner on a local Ray of 2 workers gives the records the local pool gives."""

from __future__ import annotations

import time

import pytest

from frittata.extract.records import Records
from frittata.tuning import tune
from tests.tuning.conftest import LOCAL_RUN
from tests.tuning.programs import conv_program

pytest.importorskip("ray")

JOB_TIMEOUT_SECONDS = 600.0
"""A Ray job's bound here (the runner's default is 60 s): the test compares records, and a worker's
first job, which imports the compiler and builds cold, overran 60 s on a busy machine (load ~13,
the other test worker beside it), giving a timeout record where the local pool measured one."""


def _outcome(path) -> list[tuple]:
    return [(r.workload.key, r.schedule, r.device, r.ok) for r in Records.load(path)]


@pytest.mark.xdist_group("ray")  # one local Ray cluster at a time under pytest-xdist
def test_a_two_worker_local_ray_run_gives_the_same_records_as_the_local_pool(local_run, tmp_path):
    from frittata.tuning.fleet import RayRunner

    start = time.perf_counter()
    fleet = RayRunner(threads=1, workers=2, timeout=JOB_TIMEOUT_SECONDS)
    started = time.perf_counter() - start
    try:
        assert fleet.ray.cluster_resources()[fleet.resource] == 2
        tune(conv_program(), records=tmp_path / "ray.jsonl", runner=fleet, **LOCAL_RUN)
    finally:
        fleet.close()
    assert _outcome(tmp_path / "ray.jsonl") == _outcome(local_run[0])
    assert all(ok for *_, ok in _outcome(tmp_path / "ray.jsonl"))
    assert started < 60, f"Ray took {started:.1f} s to start"
