"""Algorithm alternatives as tuning candidates: a 3x3 layer's Winograd forms and its direct kernel
(and a strided layer's channels-in-lanes kernel) are schedules of one task, measured, recorded and
priced by their measurements in extraction."""

from __future__ import annotations

import numpy as np
import pytest

import frittata as ft
from frittata import terms as T
from frittata.extract.records import Record, Records, Verdict, is_algorithm
from frittata.terms.cpu_schedules import LANES_CONV, WINOGRAD
from frittata.terms.ops import Op
from frittata.tuning.device import host_device
from frittata.tuning.measure import Job, candidate_program, reference_output, run_job
from frittata.tuning.tuner import program_tasks
from tests.tuning.programs import conv_program, conv_workload


@pytest.fixture(scope="module")
def task():
    """The 3x3 layer's task: its direct default and its two Winograd forms among the proposed."""
    (found, _) = program_tasks(conv_program(), host_device(1))
    assert found.workload == conv_workload()
    return found


def _alternatives(task) -> tuple[tuple, tuple, tuple]:
    """(the direct kernel's default, Winograd F(2x2), Winograd F(4x4)) schedules of the task."""
    winograd = {dict(s)["tile"]: s for s in task.proposed if dict(s).get("kernel") == WINOGRAD}
    direct = task.proposed[0]
    assert not is_algorithm(direct) and sorted(winograd) == [2, 4]
    return direct, winograd[2], winograd[4]


def test_a_3x3_layer_has_its_winograd_and_direct_kernels_measured_as_one_task(task, tmp_path):
    """Three trials: the default the analytical model runs untuned (Winograd F(2x2) here), the
    direct kernel and F(4x4), each built alone, checked against the interpreter and timed."""
    direct, f2, f4 = _alternatives(task)
    assert task.default == f2 and task.first[:3] == (f2, direct, f4)
    path = tmp_path / "log.jsonl"
    ft.tune(conv_program(), trials=3, batch=3, records=path, threads=1, max_tasks=1, confirm=False)
    log = Records.load(path)
    assert [r.schedule for r in log] == [f2, direct, f4] and all(r.ok for r in log)
    program, _ = candidate_program(task.workload, f4, 0)
    assert program.outputs["y"].op == Op.WINOGRAD_CONV2D and dict(program.outputs["y"].attrs)["tile"] == 4


def _records(task, times: dict[tuple, float], free: bool = True) -> Records:
    device = host_device(1)
    return Records([Record(task.workload, s, device.key, device.target(), t, None, 1.0) for s, t in times.items()],
                   free=frozenset({task.workload.key}) if free else frozenset())


def _chosen(module) -> tuple:
    """The schedule the compiled layer runs (`workload_of` of its kernel)."""
    from frittata.extract.cost import term_infos
    from frittata.extract.records import workload_of

    (found,) = filter(None, (workload_of(info, host_device(1).lanes) for _, info in term_infos(module.program)))
    return found[1]


def test_extraction_runs_the_algorithm_measured_fastest_where_the_model_prefers_another(task):
    """The model prefers F(2x2) (the untuned choice): measured slower than the direct kernel,
    Winograd loses to it; F(4x4) measured fastest wins. The report says a measurement priced
    the chosen kernel and names its algorithm; the compiled module equals the interpreter."""
    direct, f2, f4 = _alternatives(task)
    x = np.random.default_rng(1).standard_normal((1, 16, 12, 12)).astype(np.float32)
    for times, schedule in (({direct: 2e-5, f2: 5e-5, f4: 6e-5}, direct), ({direct: 5e-5, f2: 4e-5, f4: 1e-5}, f4)):
        others = {s: 1e-4 for s in task.proposed}  # the tiling table's schedules measured slower
        module = ft.compile(conv_program(), threads=1, records=_records(task, others | times))
        assert _chosen(module) == schedule
        (row,) = module.report["stages"]["extract"]["kernels"]
        assert row["priced_by"] == "measured" and row["seconds"] == times[schedule]
        assert row["schedule"] == dict(schedule), row
        np.testing.assert_allclose(module.run(x=x)["y"], ft.evaluate(conv_program(), {"x": x})["y"],
                                   rtol=1e-4, atol=1e-4)


def test_a_measured_layer_keeps_its_untuned_algorithm_until_a_verdict_switches_it(task):
    """Without a verdict (the records not free) the layer runs the algorithm it ran untuned,
    F(2x2), though the direct kernel measured faster alone; a kept verdict switches it."""
    direct, f2, f4 = _alternatives(task)
    records = _records(task, {direct: 2e-5, f2: 5e-5, f4: 6e-5}, free=False)
    assert _chosen(ft.compile(conv_program(), threads=1)) == f2
    assert _chosen(ft.compile(conv_program(), threads=1, records=records)) == f2
    records.append(Verdict(task.workload, host_device(1).key, direct, f2, True, 0.5, 0.05, 10, 2.0))
    assert _chosen(ft.compile(conv_program(), threads=1, records=records)) == direct


def test_records_of_algorithm_schedules_round_trip(task, tmp_path):
    direct, f2, f4 = _alternatives(task)
    records = _records(task, {direct: 2e-5, f2: 5e-5, f4: 6e-5}, free=False)
    records.append(Verdict(task.workload, host_device(1).key, f4, f2, False, -0.1, 0.01, 10, 2.0))
    records.save(tmp_path / "log.jsonl")
    again = Records.load(tmp_path / "log.jsonl")
    assert again.records == records.records and again.verdicts == records.verdicts
    assert again.best(host_device(1).key)[task.workload.key].schedule == f2  # the verdict pins F(2x2)


def test_a_strided_layer_runs_its_channels_in_lanes_default_as_a_measured_candidate():
    """A 3x3 stride-2 layer with a reduction of 288 runs the channels-in-lanes kernel untiled: the
    task's default, built from the untiled op, checked against the interpreter and timed."""
    rng = np.random.default_rng(0)
    w = T.param("w", (rng.standard_normal((16, 32, 3, 3)) * 0.1).astype(np.float32))
    b = T.param("b", rng.standard_normal(16).astype(np.float32))
    x = T.var("x", (1, 32, 10, 10))
    conv = T.conv2d(x, w, strides=(2, 2), pads=(1, 1, 1, 1))
    program = ft.Program({"y": T.relu(T.add(conv, T.reshape(b, (1, 16, 1, 1))))})
    tasks = program_tasks(program, host_device(1))
    (strided,) = [t for t in tasks if dict(t.workload.attrs)["strides"] == (2, 2) and t.in_program
                  and t.default is not None and dict(t.default).get("kernel") == LANES_CONV]
    built, _ = candidate_program(strided.workload, strided.default, 0)
    assert built.outputs["y"].op == Op.FUSED_CONV2D
    result = run_job(Job(strided.workload, strided.default, 1, reference_output(strided.workload, 0), repeat=2))
    assert result.error is None and result.seconds is not None


def test_a_workload_the_untuned_program_does_not_run_replaces_it_only_when_left_free():
    """The layer without its fused ReLU (a variant the untuned program does not run) measured 1000x
    faster than the fused layer: a compile with those records still runs the untuned program's
    fused layer; left free (the in-network check's tuned compile), the variant and a separate
    ReLU pass replace it."""
    from frittata.extract.cost import term_infos
    from frittata.extract.records import workload_of

    device = host_device(1)
    fused, variant = program_tasks(conv_program(), device)
    assert fused.in_program and not variant.in_program

    def run(records: Records) -> set[str]:
        module = ft.compile(conv_program(), threads=1, records=records)
        return {found[0].key for _, info in term_infos(module.program) if (found := workload_of(info, device.lanes))}

    times = [(fused, s, 1e-3) for s in fused.proposed] + [(variant, s, 1e-6) for s in variant.proposed]
    records = [Record(t.workload, s, device.key, device.target(), seconds, None, 1.0) for t, s, seconds in times]
    assert run(Records(records)) == {fused.workload.key}
    assert run(Records(records, free=frozenset({variant.workload.key}))) == {variant.workload.key}
