"""Knobs the kernels take and the tuner proposes: the direct kernel's pixel tiles as wide as a
pointwise convolution's row (the whole image, not one output row), the parallel split axis of a
convolution (output channels or pixels, whichever the analytical default did not take), and
every row count of the depthwise tiles. Each is in the task's space, every such candidate equals
the interpreter on both ISAs, and a record of it round-trips through a log and is what
extraction runs when it is measured fastest."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import frittata as ft
from frittata import terms as T
from frittata.extract.records import MIN_PAIRS, Record, Records, Verdict, Workload, infer_output, workload_of
from frittata.terms.tiled import KEYS, MAX_VECTORS, schedule_of, tiled_conv2d
from frittata.tuning.device import host_device
from frittata.tuning.tasks import generated_space, with_every_axis
from frittata.tuning.tuner import program_tasks
from tests.backends.llvm.helpers import check_on, rand, targets
from tests.conftest import compiling
from tests.tuning.test_pixel_gemm_tuning import pointwise_program

DIRECT = KEYS["tiled_conv2d"]


def _direct(space) -> list:
    """The direct kernel's schedules of a space (not the pixel GEMM's)."""
    return [s for s in space if tuple(k for k, _ in s) == DIRECT]


def stem_program(size: int = 24) -> ft.Program:
    """relu(conv2d 3 -> 16, 3x3, stride 2 (x, w) + b): a network's first layer, one channel block."""
    w = T.param("w", rand((16, 3, 3, 3), seed=1, scale=0.3))
    b = T.param("b", rand((16,), seed=2))
    x = T.var("x", (1, 3, size, size))
    conv = T.conv2d(x, w, strides=(2, 2), pads=(1, 1, 1, 1))
    return ft.Program({"y": T.relu(T.add(conv, T.reshape(b, (1, 16, 1, 1))))})


def _first_task(program: ft.Program):
    return program_tasks(program, host_device(1))[0]


def test_a_pointwise_convolution_offers_pixel_tiles_as_wide_as_its_image():
    """A 7x7 pointwise convolution's direct kernel runs one row of 49 pixels: its space has tiles
    of 1 to MAX_VECTORS vectors; a 3x3 one of the same 7-wide output rows only one vector."""
    lanes = host_device(1).lanes
    task = _first_task(pointwise_program(size=7))
    widths = {dict(s)["ow_block"] // lanes for s in _direct(generated_space(task.workload, lanes))}
    assert widths == set(range(1, MAX_VECTORS + 1))
    attrs = dict(task.workload.attrs) | {"pads": (1, 1, 1, 1)}
    (x, w, b) = task.workload.operands
    three = Workload("fused_conv2d", (x, ((w[0][0], w[0][1], 3, 3), w[1]), b), task.workload.constant,
                     tuple(attrs.items()))
    assert {dict(s)["ow_block"] for s in _direct(generated_space(three, lanes))} == {lanes}


def test_every_blocking_is_offered_with_both_parallel_split_axes_and_the_defaults_twin_first():
    """The stem's space: every direct-kernel blocking (the proposed ones, whose channel blocks the
    generated space need not hold, included) with each split axis; the tuner's random search
    picks the proposed schedules and the default's twin before any other schedule."""
    lanes = host_device(1).lanes
    task = _first_task(stem_program())
    space = task.space(lanes)
    by_axis: dict[str, set] = {"oc": set(), "pixel": set()}
    for s in _direct(space):
        by_axis[dict(s)["parallel"]].add(tuple((k, v) for k, v in s if k != "parallel"))
    assert by_axis["oc"] and by_axis["oc"] == by_axis["pixel"]
    default = workload_of(infer_output(task.workload), lanes)[1]
    twin = with_every_axis(default, task.workload.op)[1]
    assert dict(twin)["parallel"] != dict(default)["parallel"] and twin in space
    first = set(task.proposed) | {twin}
    assert _picked_before_others(task, space, first, batch=3) == first


def _picked_before_others(task, space: tuple, first: set, batch: int) -> set:
    """The first len(`first`) schedules the tuner's random search (`_Session._pick`) picks,
    batch after batch, from the unmeasured `space` (shuffled)."""
    import random

    from frittata.tuning.tuner import TaskReport, TuneReport, _Session

    device = host_device(1)
    report = TuneReport(device, [TaskReport(task)], Records())
    session = _Session(report, None, None, "random", batch, None, 0.0, None, 0, device, False)  # type: ignore[arg-type]
    left, picked = random.Random(1).sample(space, len(space)), []
    while left and len(picked) < len(first):
        picked += session._pick(task, left, batch)
        left = [s for s in left if s not in picked]
    return set(picked[:len(first)])


def test_a_seven_row_depthwise_task_offers_tiles_of_five_and_seven_rows():
    """13x13 in, 5x5 stride 2: 7 output rows, which tiles of 5 and 7 rows fit (the space used to
    stop at 4 and 6)."""
    from tests.tuning.test_depthwise_tuning import _task, depthwise_program

    task = _task(depthwise_program())
    assert task.workload.operands[0][0][2] == 13
    rows = {dict(s)["oh_block"] for s in generated_space(task.workload, host_device(1).lanes)}
    assert {5, 7} <= rows and max(rows) == 7


@st.composite
def wide_pointwise(draw, lanes: int):
    """A pointwise convolution (1-2 images, bias, maybe ReLU or a residual add) tiled with a direct
    kernel schedule of the tuner's space whose pixel tile is wider than an output row (the knob
    the image-wide row adds; any direct schedule when the space has none)."""
    c, o = draw(st.integers(1, 12), label="channels"), draw(st.integers(1, 20), label="out")
    h, w = draw(st.integers(1, 9), label="h"), draw(st.integers(1, 2 * lanes), label="w")
    n = draw(st.integers(1, 2))
    epilogue = draw(st.sampled_from([(), (("relu",),), (("add",), ("relu",))]))
    attrs = (("strides", (1, 1)), ("pads", (0, 0, 0, 0)), ("dilations", (1, 1)), ("groups", 1),
             ("epilogue", epilogue))
    residual = (((n, o, h, w), "float32"),) if epilogue[:1] == (("add",),) else ()
    workload = Workload("fused_conv2d", (((n, c, h, w), "float32"), ((o, c, 1, 1), "float32"), ((o,), "float32"))
                        + residual, (False, True, True) + (False,) * len(residual), attrs)
    space = _direct(generated_space(workload, lanes))
    wide = [s for s in space if dict(s)["ow_block"] - lanes >= w]
    schedule = draw(st.sampled_from(wide or space))
    args = (T.var("x", (n, c, h, w)), T.param("w", rand((o, c, 1, 1), seed=1)), T.param("b", rand((o,), seed=2)))
    args += tuple(T.var("r", (n, o, h, w)) for _ in residual)
    return tiled_conv2d(*args, epilogue=epilogue, schedule=schedule)


@compiling
@given(term=wide_pointwise(8), threads=st.sampled_from([1, 2]))
def test_wide_pointwise_tiles_equal_the_interpreter_with_8_lanes(term, threads):
    mod = check_on(ft.Program({"y": term}), targets()["avx2"], threads)
    assert mod.report["backend"]["fast_paths"] == ["tiled_conv2d"]


@compiling
@given(term=wide_pointwise(16), threads=st.sampled_from([1, 2]))
def test_wide_pointwise_tiles_equal_the_interpreter_with_16_lanes(term, threads):
    mod = check_on(ft.Program({"y": term}), targets()["avx512"], threads)
    assert mod.report["backend"]["fast_paths"] == ["tiled_conv2d"]


def stem_then_pointwise() -> ft.Program:
    """The stem at 14x14 (a 7x7 output), then clip(pointwise 16 -> 12 + b): two tasks."""
    w = T.param("v", rand((12, 16, 1, 1), seed=4, scale=0.3))
    b = T.param("c", rand((12,), seed=5))
    stem = stem_program(14).outputs["y"]
    return ft.Program({"y": T.clip(T.add(T.conv2d(stem, w), T.reshape(b, (1, 12, 1, 1))), 0.0, 6.0)})


def test_extraction_runs_a_measured_wide_pointwise_tile_and_a_measured_split_axis(tmp_path):
    """Each task's proposed schedules logged at the model's price and one new candidate at a fifth
    of it: the stem's default blocks split over the other axis, and the pointwise layer's direct
    tile of MAX_VECTORS vectors of its 49 pixels (no row of 7 offered one; the pixel GEMM is its
    default). The log loads back as the same records, and the module compiled with it (a kept
    verdict on each) runs both candidates and equals the interpreter."""
    program = stem_then_pointwise()
    device = host_device(1)
    lanes = device.lanes
    weights = {(16, 3, 3, 3): (3, 3), (12, 16, 1, 1): (1, 1)}  # not the stem's im2col form (27 -> 16 1x1)
    tasks = {weights[task.workload.operands[1][0]]: task for task in program_tasks(program, device)
             if task.workload.operands[1][0] in weights and dict(task.workload.attrs)["epilogue"]}
    default = workload_of(infer_output(tasks[3, 3].workload), lanes)[1]
    chosen = {(3, 3): with_every_axis(default, tasks[3, 3].workload.op)[1],
              (1, 1): next(s for s in _direct(generated_space(tasks[1, 1].workload, lanes))
                           if dict(s)["ow_block"] == MAX_VECTORS * lanes and s not in tasks[1, 1].proposed)}
    log = Records()
    for kernel, task in tasks.items():
        assert chosen[kernel] not in task.proposed
        times = {s: task.model_seconds for s in task.proposed} | {chosen[kernel]: task.model_seconds / 5}
        for schedule, seconds in times.items():
            log.append(Record(task.workload, schedule, device.key, device.target(), seconds, None, 1.0))
        untuned = workload_of(infer_output(task.workload), lanes)[1]  # a kept verdict lets it run
        log.append(Verdict(task.workload, device.key, chosen[kernel], untuned, True, 0.1, 0.01, MIN_PAIRS, 2.0))
    log.save(tmp_path / "log.jsonl")
    assert Records.load(tmp_path / "log.jsonl").records == log.records
    module = ft.compile(program, threads=1, records=tmp_path / "log.jsonl")
    kernels = [t for t in module.program.terms() if t.op.value in ("tiled_conv2d", "fused_conv2d")]
    assert {t.op.value for t in kernels} == {"tiled_conv2d"}
    assert {t.args[1].shape[2:]: tuple(schedule_of(t).items()) for t in kernels} == chosen
    x = rand(program.inputs["x"].shape, seed=3)
    np.testing.assert_allclose(module.run(x=x)["y"], ft.evaluate(program, {"x": x})["y"], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_a_task_proposes_only_schedules_of_its_targets_vector_width(isa):
    """The tiling rules propose 8- and 16-lane rows on either ISA; tuning for a target (forced
    through its LLVM target string) measures only its own width (before, an AVX2 host measured
    the 16-lane ones too)."""
    from frittata.backends.registry import get_target
    from frittata.rewrites import saturate
    from frittata.tuning.tasks import tasks_of
    from tests.extract.test_schedule_cost import TARGETS
    from tests.tuning.programs import conv_program

    target = get_target(TARGETS[isa])
    lanes = target.cost_model().vector_lanes
    assert lanes == {"avx2": 8, "avx512": 16}[isa]
    data, _ = saturate(conv_program(), schedule=target.schedule(), params=target.rule_params())
    for task in tasks_of(data, lanes):
        assert {dict(s)["vec"] for s in task.proposed} == {lanes}, task
        assert {dict(s)["vec"] for s in task.space(lanes)} == {lanes}, task
