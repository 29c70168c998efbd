"""The vectorized depthwise convolution equals the interpreter, on the 8-lane (AVX2) and 16-lane
(AVX-512) variants, whichever the host is (each forced through the LLVM target, `helpers.targets`),
with its default tile and with every tile the tuner's space offers."""

from __future__ import annotations

import time
from itertools import product

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import frittata as ft
from frittata.extract.cost import program_cost
from frittata.extract.cpu_model import CpuModel
from frittata.terms import builders as tb
from frittata.backends.llvm import build
from frittata.backends.llvm.depthwise import Geometry, deferred_group, ring_slots
from frittata.backends.packing import aligned
from frittata.terms.cpu_schedules import blocked_schedule, is_depthwise
from frittata.terms.depthwise_schedules import depthwise_schedule
from frittata.terms.tiled import tiled_conv2d
from frittata.tuning.tasks import depthwise_space
from tests.backends.llvm.helpers import check_on, kernel_texts, rand, targets
from tests.conftest import compiling
from tests.strategies import inputs_for


@st.composite
def depthwise_convs(draw, lanes: int = 8):
    """A depthwise convolution (any channels, multiplier, kernel 1/3/5/7, stride, dilation, pads),
    plain, fused (ReLU6, SiLU, hard swish, a residual add and ReLU, or ReLU then the sigmoid and
    a residual add: steps the tile applies and steps the deferred pass over the planes applies),
    or tiled by a schedule drawn from the tuner's space for `lanes` (a single channel is an
    ordinary convolution)."""
    channels = draw(st.sampled_from([1, 3, 8, 13, 16, 24, 33]), label="channels")
    multiplier = draw(st.sampled_from([1, 1, 2]))
    k = draw(st.sampled_from([1, 3, 5, 7]))
    stride, dilation = draw(st.sampled_from([1, 2])), draw(st.sampled_from([1, 1, 2]))
    pads = tuple(draw(st.integers(0, k // 2 + 1)) for _ in range(4))
    reach = (k - 1) * dilation + 1
    least = max(1, reach - pads[0] - pads[2])
    h = draw(st.integers(least, max(12, least)))  # a 7x7 kernel dilated by 2 reaches 13 rows
    w = draw(st.integers(max(1, reach - pads[1] - pads[3]), 75))
    x = tb.var("x", (draw(st.integers(1, 2)), channels, h, w))
    weights = tb.param("w", rand((channels * multiplier, 1, k, k), seed=1))
    attrs = {"strides": (stride, stride), "pads": pads, "dilations": (dilation, dilation), "groups": channels}
    plain = tb.conv2d(x, weights, **attrs)
    bias = tb.param("b", rand((channels * multiplier,), seed=2))
    fused = draw(st.sampled_from(["none", "relu6", "silu", "hard_swish", "residual", "gated residual"]))
    if fused == "none":
        return plain
    residual = (tb.var("r", plain.shape),) if "residual" in fused else ()
    epilogue = {"relu6": (("clip", 0.0, 6.0),), "silu": (("silu",),), "hard_swish": (("hard_swish",),),
                "residual": (("add",), ("relu",)),
                "gated residual": (("relu",), ("sigmoid",), ("add",))}[fused]
    tiles = depthwise_space(plain.shape[2], plain.shape[3], lanes) if channels > 1 else []
    schedule = draw(st.sampled_from([None, *tiles]))
    if schedule is None:
        return tb.fused_conv2d(x, weights, bias, *residual, epilogue=epilogue, **attrs)
    return tiled_conv2d(x, weights, bias, *residual, epilogue=epilogue, schedule=schedule, **attrs)


def _default(c: int, k: int, h: int, w: int, stride: int = 1):
    """An example: the default tile of a plain depthwise k x k convolution of c channels, padded
    by k // 2 (keeping h x w at stride 1)."""
    x = tb.var("x", (1, c, h, w))
    return example(term=tb.conv2d(x, tb.param("w", rand((c, 1, k, k), seed=1)), pads=(k // 2,) * 4, groups=c,
                                  strides=(stride, stride)), threads=2)


@compiling
@given(term=depthwise_convs(8), threads=st.sampled_from([1, 2]))
@_default(5, 5, 20, 20)  # spilled weights: 3 rows of 3 vectors, a row tail of 2 and a column tail
@_default(3, 7, 9, 56)  # 7x7: 2 rows of 4 vectors
@_default(3, 3, 30, 56, 2)  # a ring of 8 rows (a power of two) for 31 padded rows
@_default(5, 3, 7, 7)  # a row of one partial vector: stored whole but in each plane's last row
@_default(3, 3, 9, 44)  # 2 rows of a whole tile and a tail: the tail's second row stored whole
def test_depthwise_equals_the_interpreter_with_8_lanes(term, threads):
    mod = check_on(ft.Program({"y": term}), targets()["avx2"], threads)
    assert mod.report["backend"]["fast_paths"] == [term.op.value]


@compiling
@given(term=depthwise_convs(16), threads=st.sampled_from([1, 2]))
@_default(3, 7, 9, 56)  # 7x7 on 16 lanes: 2 rows of 4 vectors, a row tail of 1
@_default(3, 3, 9, 88)  # 2 rows of a whole tile and a tail of 1.5 vectors, a ring of 8 rows for 11
@_default(5, 3, 7, 7)  # a row of one partial vector: 4 rows a tile, a row tail of 3
@_default(3, 3, 30, 56, 2)  # a ring of 8 rows (a power of two) for 31 padded rows, 2 vectors of 28
@_default(3, 3, 30, 112, 2)  # a ring of the 7 rows a block and its lead take, 4 vectors of 56
def test_depthwise_equals_the_interpreter_with_16_lanes(term, threads):
    mod = check_on(ft.Program({"y": term}), targets()["avx512"], threads)
    assert mod.report["backend"]["fast_paths"] == [term.op.value]


@pytest.mark.parametrize(("channels", "threads"), [(3, 4), (5, 3)])
def test_a_team_larger_than_the_channels_takes_a_ring_per_channel(channels, threads):
    """Each thread fills its own ring, one per thread of a team of at most as many threads as
    channels (5 channels, 3 threads), one per channel of a larger team (3 channels, 4 threads: no
    two threads share a ring either way); two images of a 3x3 stride-2 convolution whose ring wraps
    at 8 of 31 padded rows equal the interpreter, the arena filled with NaN first."""
    x = tb.var("x", (2, channels, 30, 56))
    w, bias = tb.param("w", rand((channels, 1, 3, 3), seed=1)), tb.param("b", rand((channels,), seed=2))
    term = tb.fused_conv2d(x, w, bias, pads=(1,) * 4, groups=channels, strides=(2, 2), epilogue=(("clip", 0.0, 6.0),))
    assert ring_slots(Geometry.of(term, depthwise_schedule(term.type, 9, 8))) == channels
    mod = check_on(ft.Program({"y": term}), targets()["avx2"], threads)
    assert mod.report["backend"]["fast_paths"] == [term.op.value]


@pytest.mark.parametrize("lanes", [8, 16])
def test_a_ring_that_wraps_has_a_power_of_two_rows_or_the_rows_it_wants(lanes):
    """Over MobileNetV2's and EfficientNet's depthwise shapes and their neighbours: the ring holds
    every padded row the output reads, or a block's rows and the rows filled ahead of it (at least
    the next block's) in a power of two of rows (a slot is the row's low bits), or in exactly the
    rows a block and the wanted lead take; the power of two below those rows whenever it holds a
    block's rows and the next block's."""
    for c, size, k, stride in product([8, 96], [7, 14, 28, 56, 112, 113], [3, 5, 7], [1, 2]):
        x = tb.var("x", (1, c, size, size))
        term = tb.conv2d(x, tb.param("w", rand((c, 1, k, k))), pads=(k // 2,) * 4, groups=c, strides=(stride, stride))
        g = Geometry.of(term, depthwise_schedule(term.type, k * k, lanes))
        assert g.ring <= g.last
        if g.ring < g.last:
            assert g.block_reads + g.lead == g.ring
            assert g.lead >= g.rb * stride
            assert g.ring & (g.ring - 1) == 0 or g.ring == g.block_reads + g.wanted_lead, (c, size, k, stride)
        wanted = g.block_reads + g.wanted_lead
        power = 1 << (wanted.bit_length() - 1)
        if wanted < g.last and power >= g.block_reads + g.rb * stride:
            assert g.ring == power, (c, size, k, stride)


def test_a_3x3_stride_2_ring_wraps_at_8_rows():
    """The 3x3 stride-2 example on 30 x 56 (8 lanes): a block of one output row reads 3 padded
    rows and wants 12 more filled ahead, 15 of the 31; 8 rows still hold its 3 and the next
    block's 2, so the ring wraps at 8 rows."""
    x = tb.var("x", (1, 3, 30, 56))
    term = tb.conv2d(x, tb.param("w", rand((3, 1, 3, 3))), pads=(1,) * 4, groups=3, strides=(2, 2))
    g = Geometry.of(term, depthwise_schedule(term.type, 9, 8))
    assert (g.block_reads, g.wanted_lead, g.last, g.ring) == (3, 12, 31, 8)


def _tail_stores(text: str) -> tuple[int, int, int]:
    """In a kernel's LLVM IR text: the whole vector stores in a branch's then-block (`.if`), the
    masked stores in its else-block (`.else`), and the masked stores outside either."""
    block, counts = "", [0, 0, 0]
    for line in text.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            block = line[:-1]
        elif line.lstrip().startswith("store <") and block.endswith(".if"):
            counts[0] += 1
        elif "call void @\"llvm.masked.store" in line:
            counts[1 if block.endswith(".else") else 2] += 1
    return counts[0], counts[1], counts[2]


@pytest.mark.parametrize(("h", "w", "stores"), [(7, 7, (7, 7, 0)), (9, 44, (2, 2, 1))])
def test_a_partial_last_vector_is_stored_whole_where_the_plane_goes_on(h, w, stores):
    """The IR of 3x3 convolutions like the examples above, on 8 lanes. 7 x 7 (a loop of 4-row
    blocks and a 3-row block, one partial vector a row): each of the 7 rows emitted stores it
    whole if `here + 8 <= plane end` (at run time every row but the plane's last) and masked
    otherwise; none stores it masked unconditionally. 44 wide (a whole tile and a 12-pixel tail,
    a loop of 2-row blocks and a 1-row block): only a block's last row may store it whole (the
    2-row block's second row, the 1-row block's row); the 2-row block's first row stores it
    masked."""
    x = tb.var("x", (1, 3, h, w))
    term = tb.conv2d(x, tb.param("w", rand((3, 1, 3, 3))), pads=(1,) * 4, groups=3)
    (text,) = kernel_texts(ft.Program({"y": term}), targets()["avx2"])
    assert _tail_stores(text) == stores


def test_a_tiled_depthwise_convolution_checks_its_schedule():
    """The depthwise schedule's keys, its tails and its row block are checked where the term is built."""
    x, w, b = tb.var("x", (1, 8, 9, 9)), tb.param("w", rand((8, 1, 3, 3))), tb.param("b", rand((8,)))
    (good,) = [s for s in depthwise_space(7, 7, 8) if dict(s)["oh_block"] == 4]
    assert tiled_conv2d(x, w, b, groups=8, schedule=good).shape == (1, 8, 7, 7)
    wrong_tail = tuple((k, 2 if k == "oh_tail" else v) for k, v in good)
    with pytest.raises(ft.FrittataError, match="oh_tail = 7 % 4 = 3"):
        tiled_conv2d(x, w, b, groups=8, schedule=wrong_tail)
    with pytest.raises(ft.FrittataError, match="a depthwise schedule with keys"):
        tiled_conv2d(x, w, b, groups=8, schedule=good[:-1])
    with pytest.raises(ft.FrittataError, match="groups = 1 or groups = input channels"):
        tiled_conv2d(x, tb.param("v", rand((8, 2, 3, 3))), b, groups=4, schedule=good)


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_depthwise_tiles_follow_the_isa(isa):
    """112 output pixels: 3 full tiles of 4 x 8 lanes and a 16-pixel tail with AVX2, one tile of
    4 x 16 and a 48-pixel tail with AVX-512."""
    target = targets()[isa]
    x = tb.var("x", (1, 32, 112, 112))
    term = tb.conv2d(x, tb.param("w", rand((32, 1, 3, 3))), pads=(1, 1, 1, 1), groups=32)
    schedule = blocked_schedule(term.op, term.attrs, term.type, (x.type, term.args[1].type), (False, True),
                                target.lanes)
    assert schedule is not None and is_depthwise(schedule)
    assert (schedule["ow_block"], schedule["ow_tail"]) == {"avx2": (32, 16), "avx512": (64, 48)}[isa]
    check_on(ft.Program({"y": term}), target)


def test_the_cost_model_prices_the_depthwise_kernel_far_below_the_generic_loops():
    """The same convolution priced on the vectorized kernel (float32) and on the generic loops
    (int8 takes them): the kernel is priced over ten times faster per FLOP."""
    model = CpuModel(vector_lanes=8, fp32_flops_per_core=121e9)
    floats = tb.conv2d(tb.var("x", (1, 32, 56, 56)), tb.param("w", rand((32, 1, 3, 3))), pads=(1,) * 4, groups=32)
    ints = tb.conv2d(tb.var("q", (1, 32, 56, 56), "int8"), tb.param("v", rand((32, 1, 3, 3), "int8")), pads=(1,) * 4,
                     groups=32)
    fast, slow = (program_cost(ft.Program({"y": t}), model) for t in (floats, ints))
    assert 10 * fast < slow


def _threads_past_the_channels_first(entry, channels: int):
    """`entry` with threads 0..channels-1 entering 50 ms late, so the threads past the channels
    (which have no ring of their own) take the channels."""

    def run(slots, thread, n, barrier):
        if thread < channels:
            time.sleep(0.05)
        entry(slots, thread, n, barrier)

    return run


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
@pytest.mark.parametrize(("channels", "threads"), [(2, 3), (2, 4), (3, 3), (3, 4)])
def test_a_team_larger_than_the_channels_gives_each_channel_its_ring(isa, channels, threads):
    """A team of more threads than channels has a ring per channel (the scratch holds
    min(C, MAX_THREADS) rings): with the threads past the channels entering first, so that they
    take the channels, every run equals the interpreter and nothing past the scratch is written
    (the arena is followed by a guard; were a thread's index to pick its ring, thread C would
    fill a ring past the scratch). At C threads each thread has its own ring."""
    x = tb.var("x", (2, channels, 17, 23))
    k, stride, multiplier = (3, 1, 1) if channels == 2 else (5, 2, 2)
    term = tb.fused_conv2d(x, tb.param("w", rand((channels * multiplier, 1, k, k), seed=1)),
                           tb.param("b", rand((channels * multiplier,), seed=2)), epilogue=(("relu",),),
                           pads=(k // 2,) * 4, groups=channels, strides=(stride, stride))
    program = ft.Program({"y": term})
    mod = build(program, threads=threads, target=targets()[isa])
    assert mod.team_threads == threads and mod.report["backend"]["fast_paths"] == ["fused_conv2d"]
    guard = 1 << 16
    arena = aligned(mod._arena.nbytes + guard)
    arena.fill(0xFF)  # NaN in every float of the arena, a known pattern in the guard
    mod._arena, mod._slots[0] = arena[:mod._arena.nbytes], arena.ctypes.data
    inputs = inputs_for(program, seed=4)
    want = ft.evaluate(program, inputs)["y"]
    for run in range(3):
        entry = _threads_past_the_channels_first(mod._engine.entry, channels) if run else None
        got = mod._native(mod._checked(inputs), entry)
        np.testing.assert_allclose(got["y"], want, rtol=1e-4, atol=1e-4, err_msg=f"run {run}")
        assert (arena[-guard:] == 0xFF).all(), f"run {run}: bytes past the scratch written"


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
@pytest.mark.parametrize(("channels", "threads"), [(96, 1), (96, 2), (7, 2)])
@pytest.mark.parametrize("fused", ["silu", "gated residual"])
def test_the_deferred_pass_takes_groups_of_small_planes(isa, channels, threads, fused):
    """5x5 planes (25 floats), two images, with SiLU or a deferred residual add: one thread
    takes the 96 channels as one chunk in groups of `deferred_group` (40, 40 and 16 channels:
    1000 and 400 floats, ending mid-vector on 16 lanes), two threads in chunks of 3 channels
    that cut the groups (75 floats: a partial last vector under a mask computed at run time),
    7 channels in chunks of one."""
    x = tb.var("x", (2, channels, 5, 5))
    weights = tb.param("w", rand((channels, 1, 3, 3), seed=1))
    residual = (tb.var("r", (2, channels, 5, 5)),) if fused == "gated residual" else ()
    epilogue = (("silu",),) if fused == "silu" else (("relu",), ("sigmoid",), ("add",))
    term = tb.fused_conv2d(x, weights, tb.param("b", rand((channels,), seed=2)), *residual, epilogue=epilogue,
                           pads=(1, 1, 1, 1), groups=channels)
    assert deferred_group(Geometry.of(term, depthwise_schedule(term.type, 9, 8))) == 40
    mod = check_on(ft.Program({"y": term}), targets()[isa], threads)
    assert mod.report["backend"]["fast_paths"] == ["fused_conv2d"]
