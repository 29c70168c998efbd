"""Bit-serial conv2d / dense and bit (un)packing compiled: equal to the interpreter on random
shapes, bit widths, encodings, word dtypes and register blocks, with both popcount paths: the
AVX2 nibble lookup and `llvm.ctpop` of 64-bit lanes (the AVX-512 kernels, run here when the host
has AVX-512 and otherwise built with 16-lane vectors for AVX2; also any word dtype but int64 and
computed weights), with and without a bias and a requantization epilogue; the popcount is
VPOPCNTQ on a target with AVX512-VPOPCNTDQ and the nibble lookup (VPSHUFB) on AVX2."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

import frittata.terms as T
from frittata.backends.jit import Machine, host, optimize, verify
from frittata.backends.llvm.bitpack_bytes import MAX_PLANES, packs_byte_lanes
from frittata.backends.llvm.bitserial_byte_staging import ByteStaging
from frittata.backends.llvm.bitserial_epilogue import MAX_LEVELS, least_reaching, level_thresholds
from frittata.backends.llvm.codegen import emit_module
from frittata.backends.llvm.plan import make_plan
from frittata.backends.llvm.views import Buf, contiguous
from frittata.terms.bitserial import MAX_BITS, WORD_BITS
from frittata.terms.kernels import epilogue_terms
from tests.backends.llvm.helpers import AVX2_FEATURES, AVX512_FEATURES, assert_compiled_equal, packed_weights, targets
from tests.conftest import compiling

TARGETS = targets()


@st.composite
def conv_cases(draw):
    a_bits, w_bits = draw(st.integers(1, MAX_BITS)), draw(st.integers(1, MAX_BITS))
    c, o = draw(st.integers(1, 130)), draw(st.integers(1, 11))
    k, stride, pad = draw(st.sampled_from([1, 3])), draw(st.integers(1, 2)), draw(st.integers(0, 1))
    h, w = draw(st.integers(k, 9)), draw(st.integers(k, 9))
    return (a_bits, w_bits, (draw(st.integers(1, 2)), c, h, w), (o, c, k, k), stride, pad,
            draw(st.sampled_from(["unipolar", "bipolar"])), draw(st.sampled_from(sorted(WORD_BITS))),
            draw(st.booleans()), draw(st.sampled_from(sorted(TARGETS))), draw(schedules()))


def schedules():
    """The default register block or an explicit one (tiles wider than the channels included)."""
    return st.one_of(st.just(()), st.tuples(st.integers(1, 4), st.integers(1, 4)).map(
        lambda t: (("pixels", t[0]), ("blocks", t[1]))))


@compiling
@given(conv_cases(), st.integers(0, 2**32 - 1))
def test_bitserial_conv2d_compiled_equals_the_interpreter(case, seed):
    a_bits, w_bits, xs, ws, stride, pad, encoding, word, constant, target, schedule = case
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 1 << a_bits, xs).astype(np.int8)
    codes = rng.integers(0, 1 << w_bits, ws).astype(np.int8)
    inputs = {"x": x}
    if constant:
        wp = packed_weights(codes, w_bits, word)
    else:
        wp, inputs["c"] = T.bitpack(T.var("c", ws, "int8"), w_bits, 1, word), codes
    conv = T.bitserial_conv2d(T.bitpack(T.var("x", xs, "int8"), a_bits, 1, word), wp, stride, pad, encoding=encoding,
                              schedule=schedule)
    assert_compiled_equal(T.Program({"y": conv}), inputs, TARGETS[target])


EPILOGUE_STEPS = st.one_of(st.just(("relu",)), st.tuples(st.just("clip"), st.sampled_from([None, -3, 0]),
                                                         st.sampled_from([None, 1, 3, 200])),
                           st.tuples(st.just("shift"), st.integers(0, 6)),
                           st.tuples(st.just("cast"), st.sampled_from(["int8", "uint8", "int16", "uint16", "int32"])))


@st.composite
def requantized_cases(draw):
    """A bit-serial conv2d with a bias (a parameter, computed, or none; large in some cases, so
    that the int32 sum wraps) and integer epilogue steps in any order."""
    c, o = draw(st.integers(1, 130)), draw(st.integers(1, 40))
    k, stride, pad = draw(st.sampled_from([1, 3])), draw(st.integers(1, 2)), draw(st.integers(0, 1))
    h, w = draw(st.integers(k, 9)), draw(st.integers(k, 9))
    return ((draw(st.integers(1, 2)), c, h, w), (o, c, k, k), stride, pad, draw(st.integers(1, 3)),
            draw(st.integers(1, 2)), draw(st.sampled_from(["unipolar", "bipolar"])),
            draw(st.sampled_from(["param", "computed", "none"])), draw(st.sampled_from([60, 2**31 - 1])),
            draw(st.lists(EPILOGUE_STEPS, min_size=0, max_size=4)), draw(st.sampled_from(sorted(TARGETS))),
            draw(schedules()))


@compiling
@given(requantized_cases(), st.integers(0, 2**32 - 1))
def test_bitserial_conv2d_requantizes_its_sums_exactly(case, seed):
    xs, ws, stride, pad, a_bits, w_bits, encoding, bias_kind, top, steps, target, schedule = case
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 1 << a_bits, xs).astype(np.int8)
    codes = rng.integers(0, 1 << w_bits, ws).astype(np.int8)
    inputs = {"x": x}
    bias = None
    values = rng.integers(-top, top, ws[0], endpoint=True).astype(np.int32)
    if bias_kind == "param":
        bias = T.param("b", values)
    elif bias_kind == "computed":
        bias, inputs["b"] = T.var("b", (ws[0],), "int32"), values
    if bias is None and not steps:
        steps = [("relu",)]
    conv = T.bitserial_conv2d(T.bitpack(T.var("x", xs, "int8"), a_bits, 1), packed_weights(codes, w_bits, "int64"),
                              stride, pad, encoding=encoding, schedule=schedule, bias=bias, epilogue=steps)
    assert_compiled_equal(T.Program({"y": conv}), inputs, TARGETS[target])


@given(st.lists(EPILOGUE_STEPS, min_size=1, max_size=4), st.integers(0, 2**32 - 1), st.sampled_from([40, 2**31 - 1]),
       st.integers(-300, 0), st.integers(0, 300))
@example([("shift", 5), ("clip", 0, 1), ("cast", "int8")], 0, 40, -300, 300)  # one level
@example([("relu",), ("shift", 4), ("clip", 0, 3), ("cast", "uint8")], 0, 40, -300, 300)  # three
def test_level_thresholds_are_the_epilogue_over_the_sums_range(steps, seed, top, lo, hi):
    """Where `level_thresholds` turns an epilogue into compares, out = Σ_k [v >= T[k]] equals the
    interpreter's epilogue of v + bias at every sum v in [lo, hi]."""
    bias = np.random.default_rng(seed).integers(-top, top, 6, endpoint=True).astype(np.int32)
    table = level_thresholds(bias, tuple(steps), lo, hi)
    assume(table is not None)
    assert table is not None and table.dtype == np.int16 and table.shape[0] <= MAX_LEVELS
    sums = np.arange(lo, hi + 1, dtype=np.int32)[:, None]
    acc = T.add(T.var("v", sums.shape, "int32"), T.param("b", bias))
    want = T.evaluate(epilogue_terms(acc, (), tuple(steps)), {"v": sums})
    np.testing.assert_array_equal((sums[:, :, None] >= table.T[None].astype(np.int32)).sum(-1), want)


def test_least_reaching_is_the_least_input_at_each_level():
    values = np.array([0, 0, 1, 1, 1, 3, 3])  # at v = 10..16
    assert least_reaching(lambda v: values[v - 10], 10, 16, 4).tolist() == [12, 15, 15, 17]  # 4: none, hi + 1


def test_level_thresholds_refuse_sums_past_int16_and_a_bias_add_that_could_wrap():
    """No compares where a sum could leave int16 (the kernel's 16-bit sums) or the bias add could
    wrap int32 (the epilogue's int32 arithmetic is then not monotone in the sum): the same
    epilogues give thresholds inside those bounds."""
    steps = (("shift", 14), ("clip", 0, 1), ("cast", "int8"))
    zero = np.zeros(3, np.int32)
    assert level_thresholds(zero, steps, 0, 32766) is not None
    assert level_thresholds(zero, steps, 0, 32767) is None and level_thresholds(zero, steps, -32768, 0) is None
    clipped = (("clip", 0, 1), ("cast", "int8"))
    top, bottom = np.full(3, 2**31 - 1 - 100, np.int32), np.full(3, -2**31 + 100, np.int32)
    assert level_thresholds(top, clipped, 0, 100) is not None and level_thresholds(top, clipped, 0, 300) is None
    assert level_thresholds(bottom, clipped, -100, 0) is not None
    assert level_thresholds(bottom, clipped, -300, 0) is None


@pytest.mark.parametrize("a_bits, w_bits, words", [(2, 1, 11), (4, 4, 8)])
def test_the_nibble_kernel_flushes_its_byte_counters_within_a_tap_exactly(a_bits, w_bits, words):
    """All ones, every activation 2^a - 1 and weight code 2^b - 1, with more words a tap than a
    byte counter holds (`Emitter.byte_room`: 10 words with one scaled counter, 7 per class): the
    counters are flushed every `byte_room` words and at the tap's end, at their largest sums."""
    xs, ws = (1, 64 * words, 3, 4), (5, 64 * words, 3, 3)
    x, codes = np.full(xs, (1 << a_bits) - 1, np.int8), np.full(ws, (1 << w_bits) - 1, np.int8)
    conv = T.bitserial_conv2d(T.bitpack(T.var("x", xs, "int8"), a_bits, 1), packed_weights(codes, w_bits, "int64"),
                              1, 1, schedule=(("pixels", 1), ("blocks", 2)))
    assert_compiled_equal(T.Program({"y": conv}), {"x": x}, TARGETS["avx2"])


@st.composite
def staged_cases(draw):
    """Staged stores: output planes of at least 32 KiB of int32 / int64, whose tiles' values the
    kernel stages and copies out a chunk of 8 pixels at a time, or requantized 8-bit outputs
    of rows of 8 pixels or more, whose tiles' vectors it stages and transposes (`ByteStaging`:
    border tiles run before the row's interior, channels past a transpose's 32, a strided
    window, groups of tiles). Rows of any length: a shorter last chunk; tiles of several
    pixels: chunks completed in the middle of a tile. The 8-bit outputs in a batch of 1 or 2
    (rows of both images split across the threads)."""
    out_dtype = draw(st.sampled_from(["int32", "int64", "int8", "uint8"]))
    ow = draw(st.integers(8, 140))
    bytes_ = 4 if out_dtype == "int32" else 8
    oh = draw(st.integers(1, 3)) if out_dtype in ("int8", "uint8") else -(-32 * 1024 // (ow * bytes_))
    oh += draw(st.integers(0, 2))
    k, stride = draw(st.sampled_from([1, 3])), draw(st.sampled_from([1, 1, 2]))
    c, o = draw(st.integers(1, 130)), draw(st.integers(1, 70))
    size = [(side - 1) * stride + k - 2 * (k // 2) for side in (oh, ow)]
    batch = draw(st.integers(1, 2)) if out_dtype in ("int8", "uint8") else 1
    return ((batch, c, *size), (o, c, k, k), stride, k // 2, out_dtype, draw(st.integers(1, 3)),
            draw(st.sampled_from(["unipolar", "bipolar"])), draw(st.sampled_from(sorted(TARGETS))), draw(schedules()))


@compiling
@given(staged_cases(), st.integers(0, 2**32 - 1))
@example(((1, 64, 3, 56), (40, 64, 3, 3), 1, 1, "int8", 1, "bipolar", "avx2", ()), 0)  # border pairs first
@example(((1, 64, 2, 27), (40, 64, 3, 3), 2, 1, "uint8", 2, "bipolar", "avx2", ()), 0)  # strided, last chunk short
@example(((1, 1, 3, 9), (1, 1, 3, 3), 1, 1, "int8", 1, "bipolar", "avx2", ()), 0)  # border tiles end the first chunk
@example(((1, 64, 2, 20), (128, 64, 3, 3), 1, 1, "int8", 2, "unipolar", "avx2", ()), 0)  # whole groups, no checks
@example(((2, 70, 3, 19), (40, 70, 3, 3), 1, 1, "int8", 1, "bipolar", "avx512", ()), 0)  # 16 lanes, batch 2
def test_bitserial_conv2d_stages_its_stores_exactly(case, seed):
    xs, ws, stride, pad, out_dtype, a_bits, encoding, target, schedule = case
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 1 << a_bits, xs).astype(np.int8)
    codes = rng.integers(0, 2, ws).astype(np.int8)
    steps: tuple = ()
    if out_dtype in ("int8", "uint8"):
        steps, out_dtype = (("shift", 1), ("clip", -100, 200), ("cast", out_dtype)), "int32"
    conv = T.bitserial_conv2d(T.bitpack(T.var("x", xs, "int8"), a_bits, 1), packed_weights(codes, 1, "int64"), stride,
                              pad, encoding=encoding, out_dtype=out_dtype, schedule=schedule, epilogue=steps)
    with byte_stagings() as chosen:
        assert_compiled_equal(T.Program({"y": conv}), {"x": x}, TARGETS[target])
    assert any(chosen) == bool(steps)  # the 8-bit outputs staged and transposed, the others not


@contextmanager
def byte_stagings() -> Iterator[list]:
    """The `ByteStaging.of` answers (a buffer or None) of the kernels emitted inside the block."""
    chosen: list = []
    of = ByteStaging.of.__func__

    def spy(cls, *args):
        chosen.append(of(cls, *args))
        return chosen[-1]

    with mock.patch.object(ByteStaging, "of", classmethod(spy)):
        yield chosen


@pytest.mark.parametrize("cpu, features", [("icelake-server", AVX512_FEATURES), ("znver3", AVX2_FEATURES)])
def test_the_byte_staging_builds_for_each_isa(cpu, features):
    """An int8 requantized layer with rows of 8+ pixels stages and transposes its stores for the
    AVX-512 kernels too (emitted and verified only: this host may lack AVX-512)."""
    x = T.bitpack(T.var("x", (2, 64, 3, 12), "int8"), 1, 1)
    steps = (("shift", 1), ("clip", -100, 100), ("cast", "int8"))
    conv = T.bitserial_conv2d(x, packed_weights(np.ones((40, 64, 3, 3), np.int8), 1, "int64"), 1, 1,
                              encoding="bipolar", out_dtype="int32", epilogue=steps)
    target = Machine(host().triple, cpu, features)
    with byte_stagings() as chosen:
        emitted = emit_module(make_plan(T.Program({"y": conv}), lambda t: 0), target)
    assert any(chosen) and chosen[-1].k.lanes == target.lanes
    staged = [text for text in emitted.kernels.values() if "transpose.body" in text]
    assert len(staged) == 1 and "align 32" in staged[0]
    verify(staged[0], "staged")


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("encoding, out_dtype, schedule", [("bipolar", "int32", ()),
                                                           ("unipolar", "int64", (("pixels", 1), ("blocks", 3)))])
def test_bitserial_dense_compiled_equals_the_interpreter(rng, target, encoding, out_dtype, schedule):
    x = rng.integers(0, 4, (3, 200)).astype(np.int8)
    codes = rng.integers(0, 2, (13, 200)).astype(np.int8)
    dense = T.bitserial_dense(T.bitpack(T.var("x", x.shape, "int8"), 2, 1), packed_weights(codes, 1, "int64"),
                              encoding, out_dtype, schedule)
    assert_compiled_equal(T.Program({"y": dense}), {"x": x}, TARGETS[target])


@pytest.mark.parametrize("shape, axis, word, source, bits", [
    ((5, 70, 3), 0, "int32", "int8", 3), ((5, 70, 3), 1, "int32", "int8", 3), ((5, 70, 3), 2, "int32", "int8", 3),
    ((2, 70, 3, 16), 1, "int32", "int8", 3), ((1, 70, 2, 12), 1, "int32", "int8", 3),
    ((2, 130, 3, 16), 1, "int64", "int8", 3), ((2, 130, 3, 16), 1, "int64", "int8", 1),
    ((2, 130, 3, 16), 1, "int64", "int8", 2), ((1, 70, 2, 8), 1, "uint8", "int8", 1),
    ((1, 130, 2, 16), 1, "int64", "int64", 1)])
def test_bitpack_and_bitunpack_compiled(rng, shape, axis, word, source, bits):
    """The shapes from (2, 70, 3, 16) on pack 8 or 4 adjacent positions of their contiguous last
    axis at once (a 64-bit word from two 32-bit halves, its third word partly past the axis; an
    8-bit word truncated from its i32 lane; an int64 source truncated to its i32 lane, on both
    ISAs' kernels)."""
    x = rng.integers(-(1 << 40), 1 << 40, shape) if source == "int64" else rng.integers(-128, 128, shape)
    x = x.astype(source)
    packed = T.bitpack(T.var("x", x.shape, source), bits, axis, word)
    program = T.Program({"packed": packed, "back": T.bitunpack(packed, x.shape[axis], axis, "bipolar")})
    for target in TARGETS.values() if source == "int64" else [host()]:
        assert_compiled_equal(program, {"x": x}, target)


@st.composite
def byte_lane_cases(draw):
    """8-bit tensors packed into int64 words along an axis followed by at least 32 positions:
    channels past the last whole word, positions past the last whole chunk of 32 (a run of 32
    exactly: no tail), outer axes before the packed one, 1 to MAX_PLANES planes, both ISAs."""
    outer = draw(st.lists(st.integers(1, 3), min_size=0, max_size=2))
    positions = draw(st.sampled_from([(32,), (33,), (4, 9), (14, 14), (5, 13)]))
    shape = (*outer, draw(st.integers(1, 200)), *positions)
    return shape, len(outer), draw(st.integers(1, MAX_PLANES)), draw(st.sampled_from(["int8", "uint8"])), \
        draw(st.sampled_from(sorted(TARGETS)))


@compiling
@given(byte_lane_cases(), st.integers(0, 2**32 - 1))
def test_bitpack_of_bytes_in_vector_lanes_equals_the_interpreter(case, seed):
    shape, axis, bits, source, target = case
    info = np.iinfo(source)
    x = np.random.default_rng(seed).integers(info.min, info.max, shape, endpoint=True).astype(source)
    packed = T.bitpack(T.var("x", shape, source), bits, axis)
    out = contiguous(Buf(0, 0, packed.type))  # the kernel packs bytes in vector lanes here
    assert packs_byte_lanes(packed, contiguous(Buf(0, 0, packed.args[0].type)), out)
    assert_compiled_equal(T.Program({"packed": packed}), {"x": x}, TARGETS[target])


def test_bitpack_packs_byte_lanes_from_a_run_of_32_positions():
    """A run shorter than one vector of bytes (31 positions) takes the general kernel: the byte
    kernel's last chunk would start before the run (and before the tensor)."""
    def byte_lanes(positions: tuple[int, ...], word: str = "int64", bits: int = 2) -> bool:
        packed = T.bitpack(T.var("x", (2, 70, *positions), "int8"), bits, 1, word)
        return packs_byte_lanes(packed, contiguous(Buf(0, 0, packed.args[0].type)), contiguous(Buf(0, 0, packed.type)))

    assert byte_lanes((32,)) and byte_lanes((4, 8)) and byte_lanes((2, 16), bits=MAX_PLANES)
    assert not byte_lanes((31,)) and not byte_lanes((3, 8)) and not byte_lanes((16,))
    assert not byte_lanes((32,), "int32") and not byte_lanes((32,), bits=MAX_PLANES + 1)


def _assembly(program: T.Program, target: Machine) -> str:
    emitted = emit_module(make_plan(program, lambda t: 0), target)
    text = ""
    for ir_text in emitted.kernels.values():
        module = verify(ir_text, "test")
        optimize(module, target)
        text += target.machine().emit_assembly(module)
    return text


def test_the_popcount_instruction_follows_the_target():
    """AVX2: the nibble lookup (its byte counters summed by VPSADBW) with three activation
    planes, the table kernel (byte counters unpacked to 16 bits) with one or two; AVX-512:
    VPOPCNTQ."""
    triple = host().triple

    def program(a_bits: int) -> T.Program:
        x = T.bitpack(T.var("x", (1, 64, 6, 6), "int8"), a_bits, 1)
        return T.Program({"y": T.bitserial_conv2d(x, packed_weights(np.ones((8, 64, 3, 3), np.int8), 1, "int64"), 1,
                                                  1)})

    avx2 = Machine(triple, "znver3", "+avx,+avx2,+fma")
    nibbles = _assembly(program(3), avx2)
    assert "vpshufb" in nibbles and "vpsadbw" in nibbles and "vpopcnt" not in nibbles
    for tables in (_assembly(program(1), avx2), _assembly(program(2), avx2)):
        assert "vpshufb" in tables and "vpunpcklbw" in tables and "vpsadbw" not in tables and "vpopcnt" not in tables
    avx512 = _assembly(program(2), Machine(triple, "icelake-server", AVX512_FEATURES + ",+avx512vpopcntdq"))
    assert "vpopcntq" in avx512 and "zmm" in avx512
