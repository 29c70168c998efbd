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
from tests.eight_lane_host import eight_lanes
from tests.tuning.programs import conv_program, conv_workload


@pytest.fixture(scope="module", autouse=True)
def _eight_lane_host():
    """Every test here on an 8-lane host: the untuned default of the 3x3 layer is Winograd F(2x2)
    at 8 lanes, the direct kernel at 16 (an AVX-512 host), and the tests check which one runs."""
    with eight_lanes():
        yield


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
    from frittata.tuning.tuner import tune_tasks

    class InProcess:
        """Builds, checks and times each job here (what a pool worker does), without the pool's
        process start."""

        name = "in process"

        def run(self, jobs):
            return [run_job(job) for job in jobs]

        def close(self) -> None:
            """Nothing to release."""

    direct, f2, f4 = _alternatives(task)
    assert task.default == f2 and task.first[:3] == (f2, direct, f4)
    path = tmp_path / "log.jsonl"
    tune_tasks([task], host_device(1), Records(), InProcess(), trials=3, batch=3, path=path)
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


def _held(task, fastest_default: bool) -> list[Record]:
    """Records of every proposed schedule of `task`, not free: its default measured 5e-5 s and the
    others 2e-5 s, or the default fastest (1e-5 s) where `fastest_default`."""
    device = host_device(1)
    fast, slow = (1e-5, 5e-5) if fastest_default else (5e-5, 2e-5)
    return [Record(task.workload, s, device.key, device.target(), fast if s == task.default else slow, None, 1.0)
            for s in task.proposed]


def test_a_held_winograd_layer_leaves_other_layers_of_its_geometry_their_kernels():
    """The biased layer y runs F(2x2) untuned and is held by its records; z (no bias: no Winograd
    form) and v (runtime weights) are other layers of the same shapes and attributes. A compile
    with the records finishes, y keeps F(2x2), and every output equals the interpreter."""
    rng = np.random.default_rng(0)
    x = T.var("x", (1, 16, 12, 12))
    w3 = T.var("w3", (32, 16, 3, 3))
    z = T.relu(T.conv2d(x, T.param("w2", (rng.standard_normal((32, 16, 3, 3)) * 0.1).astype(np.float32)),
                        pads=(1, 1, 1, 1)))
    v = T.relu(T.add(T.conv2d(x, w3, pads=(1, 1, 1, 1)), T.reshape(T.param("b3", np.ones(32, np.float32)),
                                                                      (1, 32, 1, 1))))
    program = ft.Program({"y": conv_program().outputs["y"], "z": z, "v": v})
    device = host_device(1)
    (y_task,) = [t for t in program_tasks(program, device) if t.workload == conv_workload()]
    assert dict(y_task.default)["kernel"] == WINOGRAD
    module = ft.compile(program, threads=1, records=Records(_held(y_task, False)))
    assert (y_task.workload.key, y_task.default) in {(w.key, s) for w, s in _kernels(module)}
    feed = {"x": rng.standard_normal((1, 16, 12, 12)).astype(np.float32),
            "w3": (rng.standard_normal((32, 16, 3, 3)) * 0.1).astype(np.float32)}
    got, want = module.run(**feed), ft.evaluate(program, feed)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-4, atol=1e-4)


def _kernels(module) -> list[tuple]:
    from frittata.extract.cost import term_infos
    from frittata.extract.records import workload_of

    return list(filter(None, (workload_of(info, host_device(1).lanes) for _, info in term_infos(module.program))))


def test_a_free_workload_runs_its_candidate_beside_a_held_workload_of_its_geometry():
    """A residual block's two 3x3 layers share one geometry: the first (ReLU) measured fastest on
    a direct schedule, the second (residual add + ReLU) fastest on its Winograd default (held). The
    in-network check's tuned compile, the first left free, runs the first's candidate."""
    from frittata.tuning.in_network import candidates, unpinned
    from frittata.tuning.tasks import held_defaults

    rng = np.random.default_rng(0)

    def conv(h, name: str):
        w = T.param(name, (rng.standard_normal((32, 32, 3, 3)) * 0.1).astype(np.float32))
        b = T.reshape(T.param(name + "b", rng.standard_normal(32).astype(np.float32)), (1, 32, 1, 1))
        return T.add(T.conv2d(h, w, pads=(1, 1, 1, 1)), b)

    x = T.var("x", (1, 32, 12, 12))
    program = ft.Program({"y": T.relu(T.add(conv(T.relu(conv(x, "w1")), "w2"), x))})
    device = host_device(1)
    tasks = [t for t in program_tasks(program, device) if t.in_program]
    first = next(t for t in tasks if len(t.workload.operands) == 3)
    second = next(t for t in tasks if len(t.workload.operands) == 4)
    assert dict(first.default)["kernel"] == dict(second.default)["kernel"] == WINOGRAD
    direct = next(s for s in first.proposed if not is_algorithm(s))
    records = [Record(first.workload, s, device.key, device.target(), 1e-5 if s == direct else 5e-5, None, 1.0)
               for s in first.proposed]
    held = Records(records + _held(second, True))
    found = candidates(held, device.key, held_defaults(tasks, held, device.key, device.lanes))
    assert [(c.workload, c.schedule) for c in found] == [(first.workload, direct)]
    tuned = ft.compile(program, threads=1, records=unpinned(Records(records + _held(second, True)), found))
    assert {(w.key, s) for w, s in _kernels(tuned)} == {(first.workload.key, direct), (second.workload.key,
                                                                                      second.default)}


def test_a_default_whose_records_are_all_errors_is_replaced_by_the_models_next_pick(task):
    """F(2x2), the untuned default, recorded only as a wrong result: the held layer runs the
    model's pick among the schedules that did not fail, and the in-network check's candidate
    is timed against that one, not against F(2x2). F(4x4) recorded only as a wrong result never
    runs, even where the records leave the layer free."""
    from frittata.extract.algorithms import scheduled_info, untuned_schedule
    from frittata.extract.cpu_model import CpuModel
    from frittata.extract.measured import PINNED_OUT, MeasuredCost
    from frittata.tuning.in_network import candidates
    from frittata.tuning.tasks import held_defaults

    direct, f2, f4 = _alternatives(task)
    device = host_device(1)
    others = {s: 1e-4 for s in task.proposed if s not in (direct, f2, f4)}
    records = _records(task, others | {direct: 4e-5, f4: 3e-5}, free=False)
    records.append(Record(task.workload, f2, device.key, device.target(), None, "wrong result: max abs 3", 1.0))
    fallback = untuned_schedule(task.workload, device.lanes, CpuModel.for_host(), (direct, f4))
    assert fallback in (direct, f4) and _chosen(ft.compile(conv_program(), threads=1, records=records)) == fallback
    found = candidates(records, device.key, held_defaults([task], records, device.key, device.lanes))
    assert [c.default for c in found] == ([fallback] if fallback != f4 else [])
    failed_f4 = _records(task, others | {direct: 5e-5, f2: 5e-5})
    failed_f4.append(Record(task.workload, f4, device.key, device.target(), None, "wrong result: max abs 3", 1.0))
    cost = MeasuredCost(failed_f4, device.key, CpuModel.for_host(), device.lanes,
                        alternatives={task.workload.key: task.proposed})
    assert cost.node_cost(scheduled_info(task.workload, f4)) == PINNED_OUT
    assert cost.node_cost(scheduled_info(task.workload, f2)) == 5e-5


def test_a_winograd_candidates_features_read_its_gemm_blocks_and_its_own_model_price(task):
    """F(2x2)'s features against the direct kernel's: the same direct FLOPs, the register block
    its GEMM's (`m_block` rows by the vectors of `n_block`), its parallel units its tile blocks,
    and the model's price of the Winograd e-node, which the model prefers (the task's default)."""
    import math

    from frittata.extract.algorithms import scheduled_info
    from frittata.extract.cpu_model import CpuModel
    from frittata.tuning.model import named_features

    direct, f2, _ = _alternatives(task)
    model, s = CpuModel.for_host(), dict(f2)
    ours, theirs = (named_features(task.workload, schedule, s["vec"], 1, model) for schedule in (f2, direct))
    assert ours["log2_flops"] == theirs["log2_flops"]
    assert (ours["block_rows"], ours["block_vectors"]) == (s["m_block"], s["n_block"] // s["vec"])
    tiles = math.ceil(12 / s["tile"]) ** 2  # the 12x12 output's tiles
    assert ours["log2_units"] == math.log2(math.ceil(tiles / s["tile_block"]) * s["oc_groups"])
    assert ours["log_model_seconds"] == math.log(model.node_cost(scheduled_info(task.workload, f2)))
    assert ours["log_model_seconds"] < theirs["log_model_seconds"]


def test_an_algorithm_schedule_its_e_node_does_not_run_is_refused(task):
    """A Winograd schedule whose blocks differ from those its e-node runs (a record of other
    rules) names no e-node: scheduled_info refuses it, and a compile with such a record among
    the layer's records (the ranking model trained on them) runs the layer's untuned F(2x2)."""
    from frittata.errors import FrittataTypeError
    from frittata.extract.algorithms import scheduled_info

    _, f2, _ = _alternatives(task)
    other = tuple((k, 3 if k == "m_block" else v) for k, v in f2)
    assert scheduled_info(task.workload, f2).op == Op.WINOGRAD_CONV2D
    with pytest.raises(FrittataTypeError, match="m_block"):
        scheduled_info(task.workload, other)
    records = _records(task, {s: 1e-4 * (i + 1) for i, s in enumerate(task.proposed)} | {other: 1e-6}, free=False)
    assert _chosen(ft.compile(conv_program(), threads=1, records=records)) == f2


def test_a_plain_conv2d_is_priced_against_its_own_layers_held_default_not_another_of_its_shapes():
    """Three 3x3 layers of one geometry: a (bias + ReLU) and b (bias + residual add + ReLU) run
    F(2x2) untuned, held by records measuring it 2e-4 s and 9e-4 s; c (no bias: no Winograd
    form) has no records. Each layer's plain conv2d (its unfused variant on the direct loops)
    costs at least its own layer's held default, plus the margin: a's at 2e-4, b's at 9e-4, c's
    its own price alone. Before, all three were priced against the geometry's slowest, 9e-4."""
    from frittata.backends.registry import get_target
    from frittata.extract.algorithms import scheduled_info
    from frittata.extract.measured import SWITCH_MARGIN, MeasuredCost, operand_classes, schedules_in
    from frittata.extract.problem import constant_classes, enode_info
    from frittata.rewrites import saturate

    rng = np.random.default_rng(0)

    def weights(name: str):
        return T.param(name, (rng.standard_normal((32, 32, 3, 3)) * 0.1).astype(np.float32))

    def bias(name: str):
        return T.reshape(T.param(name, rng.standard_normal(32).astype(np.float32)), (1, 32, 1, 1))

    x = T.var("x", (1, 32, 12, 12))
    a = T.relu(T.add(T.conv2d(x, weights("wa"), pads=(1, 1, 1, 1)), bias("ba")))
    b = T.relu(T.add(T.add(T.conv2d(a, weights("wb"), pads=(1, 1, 1, 1)), bias("bb")), x))
    program = ft.Program({"y": T.relu(T.conv2d(b, weights("wc"), pads=(1, 1, 1, 1)))})
    device = host_device(1)
    tasks = {len(t.workload.operands): t for t in program_tasks(program, device) if t.in_program}
    held = {"wa": (tasks[3], 2e-4), "wb": (tasks[4], 9e-4)}
    target = get_target("llvm")
    model = target.cost_model()  # the other schedules measured at the model's price: scale 1

    def seconds(task, schedule, price: float) -> float:
        return price if schedule == task.default else model.node_cost(scheduled_info(task.workload, schedule))

    records = Records([Record(t.workload, s, device.key, device.target(), seconds(t, s, price), None, 1.0)
                       for t, price in held.values() for s in t.proposed])
    assert all(dict(t.default)["kernel"] == WINOGRAD for t, _ in held.values())
    data, _ = saturate(program, schedule=target.schedule(), params=target.rule_params())
    cost = MeasuredCost(records, device.key, model, device.lanes, alternatives=schedules_in(data, device.lanes),
                        layers=operand_classes(data, device.lanes))
    names = {n.eclass: dict(n.attrs)["name"] for n in data.nodes if n.op == Op.PARAM}
    constant = constant_classes(data)
    priced: dict[str, set[float]] = {}
    for enode in data.nodes:
        if enode.op == Op.CONV2D:
            info = enode_info(data, enode, constant)
            floor = held.get(names[enode.children[1]], (None, 0.0))[1]
            assert cost.seconds(info) < 2e-4
            want = max(cost.seconds(info), floor) * (1 + SWITCH_MARGIN) if floor else cost.seconds(info)
            priced.setdefault(names[enode.children[1]], set()).add(cost.node_cost(info) / want)
    assert priced == {"wa": {1.0}, "wb": {1.0}, "wc": {1.0}}
