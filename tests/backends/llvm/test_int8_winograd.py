"""The exact int8 Winograd kernel is bit-exact against the interpreter on the 8-lane (AVX2) and
16-lane (AVX-512) variants, over any int8 data (-128 included) and sums that wrap int32 in its
GEMM; its integer transforms are exact; the cost model prices it below the direct int8 kernel."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import frittata as ft
from frittata.backends import fileformat
from frittata.backends.llvm import build
from frittata.errors import FrittataError
from frittata.extract.cost import program_cost
from frittata.extract.cpu_model import CpuModel
from frittata.extract.winograd_cost import WEIGHT_STREAM_BANDWIDTH
from frittata.rewrites import saturate
from frittata.terms import builders as tb
from frittata.terms.winograd import INTEGER_TILES, exact_channels, integer_transforms
from tests.backends.llvm.helpers import dirty, targets
from tests.conftest import compiling

EPILOGUES = [(), (("shift", 8), ("clip", -127, 127), ("cast", "int8")), (("relu",), ("shift", 3), ("cast", "float32")),
             (("shift", 0), ("clip", 0, 100), ("cast", "uint8")), (("relu",), ("shift", 9), ("clip", -127, 127),
                                                                   ("cast", "int8"))]


@st.composite
def int8_winograd_convs(draw):
    """Channels odd and even, on both sides of the int16 vectors (2L) and of the GEMM's panels;
    images smaller than a tile, and not a multiple of it, rows on both sides of the pad pass's
    16-pixel transposes; any pads up to 2."""
    n, c = draw(st.integers(1, 2)), draw(st.sampled_from([1, 3, 5, 16, 17, 40]))
    o = draw(st.sampled_from([1, 5, 16, 21]))
    pads = tuple(draw(st.integers(0, 2)) for _ in range(4))
    h = draw(st.integers(max(1, 3 - pads[0] - pads[2]), 11))
    w = draw(st.integers(max(1, 3 - pads[1] - pads[3]), 21))
    rng = np.random.default_rng([n, c, o, h, w, *pads])
    weights = tb.param("w", rng.integers(-128, 128, (o, c, 3, 3)).astype(np.int8))
    bias = tb.param("b", rng.integers(-(1 << 16), 1 << 16, (o,)).astype(np.int32))
    return tb.winograd_conv2d(tb.var("x", (n, c, h, w), "int8"), weights, bias, pads=pads,
                              epilogue=draw(st.sampled_from(EPILOGUES)), tile=draw(st.sampled_from(INTEGER_TILES)))


def check_exact(term, x: np.ndarray, target, threads: int) -> ft.Module:
    program = ft.Program({"y": term})
    mod = build(program, threads=threads, target=target)
    got, want = dirty(mod).run(x=x)["y"], ft.evaluate(program, {"x": x})["y"]
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    return mod


@compiling
@given(term=int8_winograd_convs(), isa=st.sampled_from(["avx2", "avx512"]), threads=st.sampled_from([1, 2]))
def test_int8_winograd_is_bit_exact(term, isa, threads):
    x = np.random.default_rng(5).integers(-128, 128, term.args[0].shape).astype(np.int8)
    mod = check_exact(term, x, targets()[isa], threads)
    assert mod.report["backend"]["fast_paths"] == ["winograd_conv2d"]


@pytest.mark.parametrize("tile", INTEGER_TILES)
def test_sums_that_wrap_int32_come_out_exact(tile):
    """600 channels of -128 x -128: the GEMM's sums of up to 2 x 4608 x 6272 per channel pair
    wrap int32 many times; the result (600 x 9 x 2^14 ~ 2^26.4, past F(4x4)'s 2^25) is exact."""
    c = 600
    w = tb.param("w", np.full((3, c, 3, 3), -128, np.int8))
    term = tb.winograd_conv2d(tb.var("x", (1, c, 4, 5), "int8"), w, tb.param("b", np.arange(3, dtype=np.int32)),
                              pads=(1, 1, 1, 1), tile=tile)
    x = np.full((1, c, 4, 5), -128, np.int8)
    x[0, ::7, 1, 2] = 127
    for target in targets().values():
        check_exact(term, x, target, 1)


@pytest.mark.parametrize("tile", INTEGER_TILES)
def test_a_bias_at_the_int32_edge_comes_out_exact(tile):
    """y + bias within 2^(s-1) of 2^31 - 1 (and at -2^31): a rounding shift whose half is folded
    into the bias add, allowed only when the accumulator's bound (bias included) says it cannot
    wrap, would wrap here and turn 127 into 0."""
    rng = np.random.default_rng(tile)
    x = rng.integers(-1, 2, (1, 8, 5, 6)).astype(np.int8)
    w = tb.param("w", rng.integers(-1, 2, (4, 8, 3, 3)).astype(np.int8))
    b = tb.param("b", np.array([(1 << 31) - 1, (1 << 31) - 200, -(1 << 31), -(1 << 31) + 100], np.int32))
    steps = (("relu",), ("shift", 9), ("clip", -127, 127), ("cast", "int8"))
    term = tb.winograd_conv2d(tb.var("x", x.shape, "int8"), w, b, pads=(1, 1, 1, 1), epilogue=steps, tile=tile)
    for target in targets().values():
        check_exact(term, x, target, 1)


@pytest.mark.parametrize("tile", INTEGER_TILES)
def test_the_integer_transforms_compute_the_correlation(tile):
    """E [(Gi g Giᵀ) ⊙ (Bᵀ d B)] Eᵀ times odd⁻¹ mod 2^32, shifted, is the 3x3 correlation of a tile."""
    t, n = integer_transforms(tile), tile + 2
    rng = np.random.default_rng(tile)
    for _ in range(50):
        d, g = rng.integers(-128, 128, (n, n)), rng.integers(-128, 128, (3, 3))
        want = np.array([[(d[i:i + 3, j:j + 3] * g).sum() for j in range(tile)] for i in range(tile)])
        product = (t.e @ ((t.g @ g @ t.g.T) * (t.bt @ d @ t.bt.T)) @ t.e.T * t.inverse).astype(np.int64)
        wrapped = (product + (1 << 31)) % (1 << 32) - (1 << 31)
        np.testing.assert_array_equal(wrapped >> t.shift, want)


def test_the_op_refuses_more_channels_than_it_is_exact_for():
    c = exact_channels(3) + 1
    w = tb.param("w", np.zeros((1, c, 3, 3), np.int8))
    with pytest.raises(FrittataError, match="input channels"):
        tb.winograd_conv2d(tb.var("x", (1, c, 4, 4), "int8"), w, tb.param("b", np.zeros(1, np.int32)), tile=3)


@pytest.mark.parametrize("tile", INTEGER_TILES)
def test_the_rule_chooses_it_up_to_the_channels_it_is_exact_for(tile):
    """The rule's guard and the op's check share exact_channels: the rule fires at the limit (a
    guard below it would lose the kernel there) and not one channel past it (its guard, and the
    op's check behind it, which drops an ill-typed right side)."""
    fired = {}
    for c in (exact_channels(tile), exact_channels(tile) + 1):
        term = tb.fused_conv2d(tb.var("x", (1, c, 4, 4), "int8"), tb.param("w", np.ones((1, c, 3, 3), np.int8)),
                               tb.param("b", np.zeros(1, np.int32)), pads=(1, 1, 1, 1))
        _, report = saturate(ft.Program({"y": term}))
        fired[c] = report.fired().get(f"choose-winograd-int8-conv2d/f{tile}x{tile}", 0)
    assert fired == {exact_channels(tile): 1, exact_channels(tile) + 1: 0}


def test_a_saved_module_stores_the_int8_filters_and_derives_their_transform_when_loaded(tmp_path):
    """The file holds the int8 filters and the recipe, not U (2 x 25 / 9 times their bytes with
    F(3x3, 3x3)); the loaded module derives U again and computes the same bits."""
    rng = np.random.default_rng(12)
    weights = rng.integers(-128, 128, (48, 32, 3, 3)).astype(np.int8)
    term = tb.winograd_conv2d(tb.var("x", (1, 32, 12, 12), "int8"), tb.param("w", weights),
                              tb.param("b", rng.integers(-1000, 1000, (48,)).astype(np.int32)), pads=(1, 1, 1, 1),
                              epilogue=(("shift", 8), ("clip", -127, 127), ("cast", "int8")), tile=3)
    x = rng.integers(-128, 128, (1, 32, 12, 12)).astype(np.int8)
    mod = check_exact(term, x, targets()["avx2"], 2)
    mod.save(tmp_path / "m.ftm")
    saved = fileformat.decode((tmp_path / "m.ftm").read_bytes(), "m.ftm")
    (derivation,) = saved.derived.values()
    assert derivation.recipe == "int8-winograd-panels"
    np.testing.assert_array_equal(derivation.source, weights)
    code = sum(len(section) for section in saved.sections.values())
    transformed = 25 * 48 * 32 * 2
    assert (tmp_path / "m.ftm").stat().st_size < code + weights.nbytes + 16 * 1024 < code + transformed
    for threads in (2, 1):
        again = ft.load(tmp_path / "m.ftm", threads=threads)
        np.testing.assert_array_equal(again.run(x=x)["y"], mod.run(x=x)["y"])


@pytest.mark.parametrize("tile", INTEGER_TILES)
def test_the_price_streams_u_as_the_float_kernels_does(tile):
    """512 -> 512 on a 2x2 image (one tile, its transforms next to nothing) on one core, its GEMM
    free: the price is at least the stream of U (n² x 512 x 512 int16, past L2, within the LLC)."""
    model = CpuModel(vector_lanes=8, fp32_flops_per_core=1e18, cores=1)
    x = tb.var("x", (1, 512, 2, 2), "int8")
    w, b = tb.param("w", np.ones((512, 512, 3, 3), np.int8)), tb.param("b", np.zeros(512, np.int32))
    price = program_cost(ft.Program({"y": tb.winograd_conv2d(x, w, b, pads=(1, 1, 1, 1), tile=tile)}), model)
    assert price >= (tile + 2) ** 2 * 512 * 512 * 2 / WEIGHT_STREAM_BANDWIDTH


def test_the_cost_model_prices_it_below_the_direct_kernel():
    model = CpuModel(vector_lanes=8, fp32_flops_per_core=100e9)
    x = tb.var("x", (1, 128, 56, 56), "int8")
    w, b = tb.param("w", np.ones((128, 128, 3, 3), np.int8)), tb.param("b", np.zeros(128, np.int32))
    steps = (("relu",), ("shift", 9), ("clip", -127, 127), ("cast", "int8"))
    direct = tb.fused_conv2d(x, w, b, pads=(1, 1, 1, 1), epilogue=steps)
    winograd = tb.winograd_conv2d(x, w, b, pads=(1, 1, 1, 1), epilogue=steps, tile=3)
    fast, slow = (program_cost(ft.Program({"y": t}), model) for t in (winograd, direct))
    assert 2 * fast < slow
