"""Pointwise convolutions (1x1, stride 1, no padding) run the direct kernel on one row of all
their pixels, reading the input in place, or (small images, constant weights) the GEMM over
their pixels of `pixel_gemm`, or (expanding the channels, constant weights) the GEMM of the
weights and the pixels of `channel_gemm`; they equal the interpreter on both ISAs (see
`helpers.targets`), whole tiles or not, with constant or computed weights."""

from __future__ import annotations

import ctypes
import mmap

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import frittata as ft
from frittata import terms as T
from frittata.backends.llvm import build, conv
from frittata.backends.llvm.fastpath import schedule
from frittata.terms import builders as tb
from frittata.terms.cpu_schedules import CHANNEL_GEMM, is_pixel_gemm, kernel_of
from tests.backends.llvm.helpers import check_on, rand, targets
from tests.conftest import compiling


@st.composite
def pointwise_convs(draw):
    c, o = draw(st.integers(1, 40), label="c"), draw(st.integers(1, 30), label="o")
    x = tb.var("x", (draw(st.integers(1, 2)), c, draw(st.integers(1, 12)), draw(st.integers(1, 12))))
    weights = tb.var("w", (o, c, 1, 1)) if draw(st.booleans(), label="computed weights") else \
        tb.param("w", rand((o, c, 1, 1), seed=7))
    if draw(st.booleans(), label="plain"):
        return tb.conv2d(x, weights)
    steps = draw(st.sampled_from([(), (("relu",),), (("clip", 0.0, 6.0),), (("add",), ("relu",))]))
    shape = (x.shape[0], o, *x.shape[2:])
    residual = (tb.var("r", shape),) if ("add",) in steps else ()
    return tb.fused_conv2d(x, weights, tb.param("b", rand((o,), seed=8)), *residual, epilogue=steps)


@compiling
@given(term=pointwise_convs(), isa=st.sampled_from(["avx2", "avx512"]), threads=st.sampled_from([1, 2]))
def test_pointwise_conv_equals_the_interpreter(term, isa, threads):
    mod = check_on(ft.Program({"y": term}), targets()[isa], threads)
    assert mod.report["backend"]["fast_paths"] == [term.op.value]


@compiling
@given(c=st.integers(1, 40), o=st.integers(1, 40), n=st.integers(1, 2), h=st.integers(1, 8), w=st.integers(1, 8),
       steps=st.sampled_from([(), (("clip", 0.0, 6.0),), (("add",), ("relu",)), (("silu",),)]),
       isa=st.sampled_from(["avx2", "avx512"]), threads=st.sampled_from([1, 2]))
def test_the_pixel_gemm_equals_the_interpreter(c, o, n, h, w, steps, isa, threads):
    """Every row block count and tail (pixels 1..64), partial channel panels, each epilogue
    (the residual read transposed), several images."""
    x = tb.var("x", (n, c, h, w))
    residual = (tb.var("r", (n, o, h, w)),) if ("add",) in steps else ()
    term = tb.fused_conv2d(x, tb.param("w", rand((o, c, 1, 1), seed=3)), tb.param("b", rand((o,), seed=4)), *residual,
                           epilogue=steps)
    assert is_pixel_gemm(schedule(term, targets()[isa].lanes))
    mod = check_on(ft.Program({"y": term}), targets()[isa], threads)
    assert mod.report["backend"]["fast_paths"] == ["fused_conv2d"]


@pytest.mark.parametrize("mr", [10, 12])
def test_an_8_lane_pixel_gemm_with_more_than_8_rows_a_block_equals_the_interpreter(mr):
    """An 8-lane pixel GEMM schedule with MR = 10 or 12 (more rows than one 8 x 8 register
    transpose holds: its blocks take the stack tile) on any host (`targets`' AVX2): 49 pixels,
    a full panel of 16 channels and a partial one, a residual read transposed."""
    x, p, o = tb.var("x", (1, 12, 7, 7)), 49, 20
    schedule_ = (("vec", 8), ("m_block", mr), ("m_tail", p % mr), ("n_block", 16), ("n_tail", o % 16),
                 ("parallel", "n"))
    term = T.tiled_conv2d(x, tb.param("w", rand((o, 12, 1, 1), seed=3)), tb.param("b", rand((o,), seed=4)),
                          tb.var("r", (1, o, 7, 7)), epilogue=(("add",), ("relu",)), schedule=schedule_)
    mod = check_on(ft.Program({"y": term}), targets()["avx2"], threads=2)
    assert mod.report["backend"]["fast_paths"] == ["tiled_conv2d"]


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_narrowing_pointwise_convs_take_the_pixel_gemm_up_to_14x14(isa):
    """Fewer output than input channels, and at least 256 of those: the pixel GEMM up to 14x14,
    the direct kernel past it; other convolutions take it up to 8x8 only."""
    lanes = targets()[isa].lanes

    def conv(c: int, o: int, size: int):
        x = tb.var("x", (1, c, size, size))
        return tb.conv2d(x, tb.param("w", rand((o, c, 1, 1), seed=5, scale=0.2)))

    assert is_pixel_gemm(schedule(conv(256, 20, 14), lanes)) and not is_pixel_gemm(schedule(conv(256, 20, 15), lanes))
    assert not is_pixel_gemm(schedule(conv(255, 20, 14), lanes))
    assert is_pixel_gemm(schedule(conv(20, 30, 8), lanes)) and not is_pixel_gemm(schedule(conv(20, 30, 9), lanes))
    check_on(ft.Program({"y": conv(256, 20, 14)}), targets()[isa], threads=2)


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_deep_narrowing_pointwise_convs_take_the_pixel_gemm_up_to_28x28(isa):
    """From 512 input channels on, a narrowing convolution takes the pixel GEMM up to 28x28
    (ResNet-50's 512 -> 128 and 512 -> 256 at 28x28), the direct kernel past it; from 256 on
    only up to 14x14; a widening one past 8x8 never."""
    lanes = targets()[isa].lanes

    def conv(c: int, o: int, h: int, w: int | None = None):
        return tb.conv2d(tb.var("x", (1, c, h, w or h)), tb.param("w", rand((o, c, 1, 1), seed=5, scale=0.2)))

    def pixel_gemm(c: int, o: int, h: int, w: int | None = None) -> bool:
        return is_pixel_gemm(schedule(conv(c, o, h, w), lanes))

    assert pixel_gemm(512, 128, 28) and not pixel_gemm(512, 128, 28, 29)
    assert not pixel_gemm(511, 128, 28) and pixel_gemm(511, 128, 14)
    assert not pixel_gemm(512, 512, 28) and not pixel_gemm(512, 1024, 9)


@compiling
@given(c=st.integers(512, 530), o=st.integers(1, 40), n=st.integers(1, 2), h=st.integers(8, 28),
       w=st.integers(15, 28), steps=st.sampled_from([(), (("relu",),), (("add",), ("relu",))]),
       isa=st.sampled_from(["avx2", "avx512"]), threads=st.sampled_from([1, 2]))
def test_a_deep_narrowing_pointwise_conv_equals_the_interpreter(c, o, n, h, w, steps, isa, threads):
    """The untiled convolutions the deep tier routes to the pixel GEMM (more than 14x14 pixels,
    up to 28x28: row blocks and tails, partial channel panels, the residual read transposed)."""
    x = tb.var("x", (n, c, h, w))
    residual = (tb.var("r", (n, o, h, w)),) if ("add",) in steps else ()
    term = tb.fused_conv2d(x, tb.param("w", rand((o, c, 1, 1), seed=3, scale=0.05)),
                           tb.param("b", rand((o,), seed=4)), *residual, epilogue=steps)
    assert is_pixel_gemm(schedule(term, targets()[isa].lanes))
    mod = check_on(ft.Program({"y": term}), targets()[isa], threads)
    assert mod.report["backend"]["fast_paths"] == ["fused_conv2d"]


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_expanding_pointwise_convs_take_the_channel_gemm(isa):
    """From 64 input channels on, past 8x8 pixels, and four times as many output channels (twice
    as many up to 14x14)."""
    lanes = targets()[isa].lanes

    def channel_gemm(c: int, o: int, size: int, stride: int = 1) -> bool:
        x = tb.var("x", (1, c, size, size))
        term = tb.conv2d(x, tb.param("w", rand((o, c, 1, 1), seed=5)), strides=(stride, stride))
        return kernel_of(schedule(term, lanes)) == CHANNEL_GEMM

    assert channel_gemm(64, 256, 15) and channel_gemm(256, 1024, 14) and channel_gemm(64, 128, 14)
    assert channel_gemm(64, 128, 9) and not channel_gemm(64, 128, 15) and not channel_gemm(64, 255, 56)
    assert not channel_gemm(63, 252, 56) and not channel_gemm(64, 128, 8) and not channel_gemm(64, 256, 56, stride=2)


@compiling
@given(c=st.sampled_from([64, 65, 70, 256, 260, 520]), extra=st.integers(0, 13), n=st.integers(1, 2),
       h=st.integers(9, 12), w=st.integers(8, 12),
       steps=st.sampled_from([None, (), (("relu",),), (("clip", 0.0, 6.0),), (("add",), ("relu",)), (("silu",),)]),
       isa=st.sampled_from(["avx2", "avx512"]), threads=st.sampled_from([1, 2]))
@example(c=64, extra=3, n=2, h=9, w=9, steps=(("add",), ("relu",)), isa="avx2", threads=2)
@example(c=256, extra=0, n=1, h=9, w=10, steps=(), isa="avx2", threads=1)
def test_the_channel_gemm_equals_the_interpreter(c, extra, n, h, w, steps, isa, threads):
    """Row blocks and their tail (output channels), whole and partial pixel panels, one K block
    (exactly KC = 256 input channels, too), two or three (260, 520), each epilogue with the bias
    (the residual in the output's layout, at each image's offset), a plain convolution without
    one (`steps` None), several images (the packed panels reused). The examples: two images
    with a residual; a reduction of exactly one K block, whose only block must apply the bias."""
    o = 2 * c + extra
    x, weights = tb.var("x", (n, c, h, w)), tb.param("w", rand((o, c, 1, 1), seed=3, scale=0.1))
    if steps is None:
        term = tb.conv2d(x, weights)
    else:
        residual = (tb.var("r", (n, o, h, w)),) if ("add",) in steps else ()
        term = tb.fused_conv2d(x, weights, tb.param("b", rand((o,), seed=4)), *residual, epilogue=steps)
    assert kernel_of(schedule(term, targets()[isa].lanes)) == CHANNEL_GEMM
    mod = check_on(ft.Program({"y": term}), targets()[isa], threads)
    assert mod.report["backend"]["fast_paths"] == [term.op.value]


@pytest.mark.parametrize("lanes", [8, 16])
def test_a_pointwise_conv_is_one_row_of_all_its_pixels(lanes):
    x = tb.var("x", (1, 24, 9, 9))
    term = tb.fused_conv2d(x, tb.param("w", rand((40, 24, 1, 1))), tb.param("b", rand((40,))))
    g = conv.Geometry.of(term, schedule(term, lanes))
    assert (g.oh, g.ow, g.in_place) == (1, 81, True)
    assert g.tail == 49 % g.nr and g.staged == 24 * g.nr
    padded = tb.fused_conv2d(x, tb.param("w", rand((40, 24, 1, 1))), tb.param("b", rand((40,))), pads=(1, 1, 1, 1))
    assert not conv.Geometry.of(padded, schedule(padded, lanes)).in_place


@pytest.mark.parametrize("width", [5, 13, 65])
def test_the_last_tile_does_not_read_past_the_input(width):
    """The input ends right before a page the process may not touch (PROT_NONE: a read there is a crash):
    the direct kernel's last partial tile (65 pixels) reads its copy, not the NR floats from its
    first pixel, and the pixel GEMM's packing reads no pixel past the image, element by element
    (5 pixels: one partial block) or with whole-vector copies (13 pixels on AVX2: blocks of 5,
    the second one's 8-float copy ending at the last pixel)."""
    page = mmap.PAGESIZE
    memory = mmap.mmap(-1, 2 * page)
    start = ctypes.addressof(ctypes.c_char.from_buffer(memory))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    assert libc.mprotect(start + page, page, 0) == 0, ctypes.get_errno()
    x = np.frombuffer(memory, np.float32, count=3 * width, offset=page - 12 * width).reshape(1, 3, 1, width)
    x[...] = rand(x.shape, seed=9)
    program = ft.Program({"y": tb.conv2d(tb.var("x", x.shape), tb.param("w", rand((2, 3, 1, 1), seed=10)))})
    got = build(program, threads=1, target=targets()["avx2"]).run(x=x)["y"]
    np.testing.assert_allclose(got, ft.evaluate(program, {"x": np.array(x)})["y"], rtol=1e-5, atol=1e-6)
    libc.mprotect(start + page, page, mmap.PROT_READ | mmap.PROT_WRITE)
