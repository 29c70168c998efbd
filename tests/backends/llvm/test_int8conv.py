"""The int8 convolution kernel is bit-exact against the interpreter on the 8-lane (AVX2) and
16-lane (AVX-512) variants, the int16 pairs and (AVX-512 VNNI) the byte quads, over any int8 data
(-128 included), and the cost model prices it far below the generic loops int8 convolutions ran
on before."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from llvmlite import binding as llvm
from llvmlite import ir

import frittata as ft
from frittata.backends.jit import Machine, host, optimize
from frittata.backends.llvm import build, int8conv, int8pairs, int8quads
from frittata.extract.cost import program_cost
from frittata.extract.cpu_model import CpuModel
from frittata.terms import builders as tb
from frittata.extract.schedule_cost import BYTE_QUAD_SPEEDUP
from frittata.terms.cpu_schedules import blocked_schedule, is_int8
from tests.backends.llvm.helpers import AVX2_FEATURES, AVX512_FEATURES, dirty, kernel_texts, targets
from tests.conftest import compiling
from tests.strategies import inputs_for

EPILOGUES = [None, (), (("shift", 8), ("clip", -127, 127), ("cast", "int8")),
             (("relu",), ("shift", 3), ("cast", "float32")), (("shift", 0), ("clip", 0, 100), ("cast", "uint8")),
             (("clip", -1000, None),)]


@st.composite
def int8_convs(draw):
    """Kernel sides, strides and dilations drawn per axis (even and odd kernel sides, stride 3),
    channels often odd; stride 1 half the time, so the odd last channel's own tap pairs
    (`split_last`) are often reached."""
    n, c, o = draw(st.integers(1, 2)), draw(st.sampled_from([3, 1, 5, 2, 8, 13])), draw(st.sampled_from([1, 5, 6, 13]))
    kh, kw = draw(st.sampled_from([3, 1, 2])), draw(st.sampled_from([3, 2, 4, 1]))
    strides = draw(st.one_of(st.just((1, 1)), st.tuples(*[st.sampled_from([1, 2, 3])] * 2)))
    dilations = draw(st.tuples(st.sampled_from([1, 2]), st.sampled_from([2, 1])))
    pads = tuple(draw(st.integers(0, k // 2 + 1)) for k in (kh, kw, kh, kw))
    reach_h, reach_w = (kh - 1) * dilations[0] + 1, (kw - 1) * dilations[1] + 1
    h = draw(st.integers(max(1, reach_h - pads[0] - pads[2]), 9))
    w = draw(st.integers(max(1, reach_w - pads[1] - pads[3]), 21))
    rng = np.random.default_rng([n, c, o, kh, kw, h, w])
    weights = tb.param("w", rng.integers(-128, 128, (o, c, kh, kw)).astype(np.int8))
    x = tb.var("x", (n, c, h, w), "int8")
    attrs = {"strides": strides, "pads": pads, "dilations": dilations}
    steps = draw(st.sampled_from(EPILOGUES))
    if steps is None:
        return tb.conv2d(x, weights, **attrs)
    bias = tb.param("b", rng.integers(-(1 << 16), 1 << 16, (o,)).astype(np.int32))
    return tb.fused_conv2d(x, weights, bias, epilogue=steps, **attrs)


def int8_targets() -> dict[str, Machine]:
    """`targets`, and on a host whose AVX-512 kernel multiplies byte quads (`int8quads`) its
    16-lane int16-pair kernel too (AVX-512 without VNNI), so each variant runs here."""
    found = dict(targets())
    if host().byte_quads:
        found["avx512_pairs"] = Machine(host().triple, "skylake-avx512", AVX512_FEATURES)
    return found


def check_exact(term, target, threads: int) -> ft.Module:
    program = ft.Program({"y": term})
    inputs = inputs_for(program, seed=4)
    inputs["x"] = np.random.default_rng(5).integers(-128, 128, term.args[0].shape).astype(np.int8)
    mod = build(program, threads=threads, target=target)
    got, want = dirty(mod).run(**inputs)["y"], ft.evaluate(program, inputs)["y"]
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    return mod


@compiling
@given(term=int8_convs(), isa=st.sampled_from(sorted(int8_targets())), threads=st.sampled_from([1, 2]))
def test_int8_convolution_is_bit_exact(term, isa, threads):
    """Each example draws the ISA's kernels too (one build per example keeps the test short)."""
    mod = check_exact(term, int8_targets()[isa], threads)
    assert mod.report["backend"]["fast_paths"] == [term.op.value]


@pytest.mark.parametrize("threads", [1, 2])
def test_runs_after_the_first_compute_every_tile(threads):
    """The kernel takes its tiles from the team's work counter, which the barrier zeroes."""
    x = tb.var("x", (2, 8, 9, 12), "int8")
    term = tb.conv2d(x, tb.param("w", np.random.default_rng(6).integers(-128, 128, (13, 8, 3, 3)).astype(np.int8)))
    program = ft.Program({"y": term})
    mod = build(program, threads=threads)
    assert mod.report["backend"]["fast_paths"] == ["conv2d"]
    for seed in range(3):
        inputs = {"x": np.random.default_rng(seed).integers(-128, 128, x.shape).astype(np.int8)}
        np.testing.assert_array_equal(mod.run(**inputs)["y"], ft.evaluate(program, inputs)["y"])


@pytest.mark.parametrize("c, kernel, dilations, pads, threads", [
    (3, (3, 3), (1, 1), (1, 1, 1, 1), 1), (1, (3, 3), (2, 2), (0, 2, 1, 0), 2), (5, (5, 3), (1, 1), (2, 0, 1, 2), 1),
    (3, (2, 4), (2, 2), (0, 0, 0, 0), 2), (3, (3, 3), (1, 2), (1, 2, 1, 2), 1)])
def test_an_odd_last_channel_pairs_its_own_taps(c, kernel, dilations, pads, threads):
    """With stride 1 the last of an odd number of channels takes each kernel row's taps in pairs
    (`row_items`: a tap with the next column's; an odd last column's down the rows,
    `column_items`), on both ISAs' kernels (on 1 and 2 threads across the cases; the last
    case's column dilation differs from its row dilation)."""
    rng = np.random.default_rng(c)
    x = tb.var("x", (2, c, 7, 19), "int8")
    weights = tb.param("w", rng.integers(-128, 128, (13, c, *kernel)).astype(np.int8))
    bias = tb.param("b", rng.integers(-(1 << 16), 1 << 16, (13,)).astype(np.int32))
    term = tb.fused_conv2d(x, weights, bias, epilogue=(("relu",), ("shift", 7), ("clip", -127, 127), ("cast", "int8")),
                           pads=pads, dilations=dilations)
    for target in targets().values():
        schedule = blocked_schedule(term.op, term.attrs, term.type, [a.type for a in term.args], (False, True, True),
                                    target.lanes)
        assert schedule is not None and int8pairs.split_last(int8conv.geometry(term, schedule))
        check_exact(term, target, threads)


@pytest.mark.parametrize("kernel, dilations, pads, pairs, isa", [
    ((3, 3), (1, 1), (1, 1, 1, 1), 9 + 3 + 2, "avx2"), ((4, 3), (2, 1), (2, 0, 1, 1), 12 + 4 + 2, "avx512"),
    ((2, 5), (1, 1), (0, 2, 1, 2), 10 + 4 + 1, "avx2"), ((7, 7), (1, 1), (3, 3, 3, 3), 49 + 21 + 4, "avx512"),
    ((1, 3), (1, 1), (0, 1, 0, 1), 3 + 2, "avx512")])
def test_an_odd_last_column_pairs_its_taps_down_the_rows(kernel, dilations, pads, pairs, isa):
    """With an odd number of kernel columns and more than one row, the last channel's last
    column pairs tap r with tap r + 1 (`column_items`, from its row-pair plane), an odd last
    row's with zero: a 3x3 convolution of 3 channels takes 9 + 3 + 2 pair products, not 9 + 6
    (a kernel of one row keeps its last tap paired with zero). Equal to the interpreter, with
    row dilation and padding on either side, each case on one ISA's kernels."""
    rng = np.random.default_rng(sum(kernel))
    x = tb.var("x", (1, 3, 6, 17), "int8")
    weights = tb.param("w", rng.integers(-128, 128, (7, 3, *kernel)).astype(np.int8))
    bias = tb.param("b", rng.integers(-(1 << 16), 1 << 16, (7,)).astype(np.int32))
    term = tb.fused_conv2d(x, weights, bias, epilogue=(("shift", 6), ("clip", -100, 120), ("cast", "int8")),
                           pads=pads, dilations=dilations)
    target = targets()[isa]
    schedule = blocked_schedule(term.op, term.attrs, term.type, [a.type for a in term.args], (False, True, True),
                                target.lanes)
    assert schedule is not None and int8pairs.reduction_pairs(int8conv.geometry(term, schedule)) == pairs
    check_epilogue_exact(term, {"x": rng.integers(-128, 128, x.shape).astype(np.int8)}, target)


@pytest.mark.parametrize("steps", [(("shift", 8), ("cast", "int32")), (("relu",), ("shift", 8), ("cast", "int32"))])
def test_a_rounding_shift_near_the_int32_limit_is_exact(steps):
    """The rounding shift adds its half before shifting only where the sum cannot wrap: here
    acc + bias (acc = x in -8..7) straddles 2^31 - 1 - 2^7, so it must keep (v >> 8) + bit 7 of v."""
    x = tb.var("x", (1, 1, 2, 8), "int8")
    weights = tb.param("w", np.full((2, 1, 1, 1), 1, np.int8))
    bias = tb.param("b", np.array([2**31 - 1 - 127, -(2**31) + 127], np.int32))
    term = tb.fused_conv2d(x, weights, bias, epilogue=steps)
    program = ft.Program({"y": term})
    mod = build(program, threads=1)
    assert mod.report["backend"]["fast_paths"] == ["fused_conv2d"]
    inputs = {"x": np.arange(-8, 8, dtype=np.int8).reshape(1, 1, 2, 8)}
    np.testing.assert_array_equal(mod.run(**inputs)["y"], ft.evaluate(program, inputs)["y"])


@pytest.mark.parametrize("isa", sorted(int8_targets()))
@pytest.mark.parametrize("c, stride", [(64, 1), (5, 2), (3, 1), (6, 3)])
def test_extreme_products_are_exact_on_every_variant(isa, c, stride):
    """x and w at both ends of int8 (x + 128 = 255 or 0 in a byte quad, 2^14 in a pair), with
    padding (a quad's packed zero is the byte 0x80), partial last quads and stride phases, with
    and without a bias: equal to the interpreter."""
    rng = np.random.default_rng(c)
    x = tb.var("x", (1, c, 6, 19), "int8")
    weights = rng.choice(np.array([-128, 127], np.int8), (9, c, 3, 3))
    bias = tb.param("b", rng.integers(-(1 << 20), 1 << 20, (9,)).astype(np.int32))
    attrs = {"strides": (stride, stride), "pads": (1, 1, 1, 1)}
    inputs = {"x": rng.choice(np.array([-128, 127], np.int8), x.shape)}
    program = ft.Program({"plain": tb.conv2d(x, tb.param("w", weights), **attrs),
                          "biased": tb.fused_conv2d(x, tb.param("w", weights), bias,
                                                    epilogue=(("shift", 4), ("cast", "int32")), **attrs)})
    mod = build(program, threads=2, target=int8_targets()[isa])
    assert sorted(mod.report["backend"]["fast_paths"]) == ["conv2d", "fused_conv2d"]
    got, want = dirty(mod).run(**inputs), ft.evaluate(program, inputs)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def test_byte_quads_compensate_the_unsigned_input():
    """Σ (x + 128) w over a packed quad's bytes plus `compensated_bias` is Σ x w + bias."""
    rng = np.random.default_rng(3)
    w, x = rng.integers(-128, 128, (5, 7, 3, 3)).astype(np.int8), rng.integers(-128, 128, (7, 3, 3))
    bias = rng.integers(-1000, 1000, 5).astype(np.int32)
    packed = int8quads.pack_quads(w, 4, 2).view(np.int8).reshape(2, 2 * 9, 4, 4)  # [block][quad, tap][row][byte]
    unsigned = np.zeros((8, 9), np.int64)
    unsigned[:7] = x.reshape(7, 9) + 128
    words = unsigned.reshape(2, 4, 9).transpose(0, 2, 1).reshape(18, 4)  # [quad, tap][byte]
    got = np.einsum("brqk,qk->br", packed.astype(np.int64).transpose(0, 2, 1, 3), words).reshape(8)[:5]
    want = np.einsum("ocs,cs->o", w.reshape(5, 7, 9).astype(np.int64), x.reshape(7, 9)) + bias
    np.testing.assert_array_equal(got + int8quads.compensated_bias(w, bias), want)


def test_the_cost_model_prices_byte_quads_faster_with_vnni():
    x = tb.var("x", (1, 64, 28, 28), "int8")
    term = tb.conv2d(x, tb.param("w", np.ones((128, 64, 3, 3), np.int8)), strides=(2, 2), pads=(1, 1, 1, 1))
    vnni, plain = (CpuModel.for_machine(host().triple, AVX512_FEATURES + extra) for extra in (",+avx512vnni", ""))
    assert vnni.byte_quads and not plain.byte_quads
    assert not CpuModel.for_machine(host().triple, AVX2_FEATURES + ",+avxvnni").byte_quads
    fast, slow = (program_cost(ft.Program({"y": term}), model) for model in (vnni, plain))
    assert fast < slow / (0.9 * BYTE_QUAD_SPEEDUP)


def test_extreme_values_do_not_saturate():
    """Every input and weight -128: each product is 2^14, a pair 2^15 (one past int16)."""
    x = tb.var("x", (1, 64, 5, 5), "int8")
    term = tb.conv2d(x, tb.param("w", np.full((8, 64, 3, 3), -128, np.int8)), pads=(1, 1, 1, 1))
    mod = build(ft.Program({"y": term}), threads=2)
    got = mod.run(x=np.full((1, 64, 5, 5), -128, np.int8))["y"]
    assert got[0, 0, 2, 2] == 64 * 9 * (1 << 14)


@pytest.mark.parametrize("steps", [(("cast", "int8"), ("relu",)), (("add",),)])
def test_epilogues_the_kernel_does_not_apply_take_the_generic_loops(steps):
    """A cast before other steps (they then work on int8), or a residual operand."""
    x, w = tb.var("x", (1, 4, 6, 6), "int8"), tb.param("w", np.ones((4, 4, 3, 3), np.int8))
    b = tb.param("b", np.zeros(4, np.int32))
    residual = (tb.var("r", (1, 4, 4, 4), "int32"),) if ("add",) in steps else ()
    term = tb.fused_conv2d(x, w, b, *residual, epilogue=steps)
    assert blocked_schedule(term.op, term.attrs, term.type, [a.type for a in term.args],
                            (False, True, True, False), 8) is None


def test_the_cost_model_prices_the_int8_kernel_far_below_the_generic_loops():
    model = CpuModel(vector_lanes=8, fp32_flops_per_core=121e9)
    x = tb.var("x", (1, 64, 28, 28), "int8")
    term = tb.conv2d(x, tb.param("w", np.ones((64, 64, 3, 3), np.int8)), pads=(1, 1, 1, 1))
    schedule = blocked_schedule(term.op, term.attrs, term.type, [x.type, term.args[1].type], (False, True), 8)
    assert schedule is not None and is_int8(schedule)
    generic = tb.conv2d(x, tb.var("v", (64, 64, 3, 3), "int8"), pads=(1, 1, 1, 1))
    fast, slow = (program_cost(ft.Program({"y": t}), model) for t in (term, generic))
    assert 10 * fast < slow


@pytest.mark.parametrize("features, lanes, instruction", [
    (AVX2_FEATURES, 8, "vpmaddwd\t%ymm"),
    (AVX512_FEATURES, 16, "vpmaddwd\t%zmm"),
    (AVX512_FEATURES + ",+avx512vnni", 16, "vpdpwssd\t%zmm"),
])
def test_the_pair_multiply_add_selects_the_isa_dot_product(features, lanes, instruction):
    """The kernel's generic multiply-add of int16 pairs, accumulated, compiles to vpmaddwd, and
    to the VNNI dot product vpdpwssd where the CPU has AVX-512 VNNI (compiled, not run: this host
    may lack the ISA)."""
    module = ir.Module()
    vec = ir.VectorType(ir.IntType(32), lanes)
    fn = ir.Function(module, ir.FunctionType(vec, [vec, vec, vec]), name="madd")
    b = ir.IRBuilder(fn.append_basic_block())
    b.ret(b.add(fn.args[2], int8conv.madd(b, fn.args[0], fn.args[1], lanes)))
    machine = Machine(host().triple, "x86-64", features)
    parsed = llvm.parse_assembly(str(module))
    optimize(parsed, machine)
    assert instruction in machine.machine().emit_assembly(parsed)


def check_epilogue_exact(term, inputs: dict, target=None) -> None:
    program = ft.Program({"y": term})
    mod = build(program, threads=1, target=target)
    assert mod.report["backend"]["fast_paths"] == ["fused_conv2d"]
    np.testing.assert_array_equal(dirty(mod).run(**inputs)["y"], ft.evaluate(program, inputs)["y"])


@pytest.mark.parametrize("steps", [
    (("clip", 2**31 - 1, 2**31 - 1), ("shift", 1), ("cast", "int32")),
    (("clip", 2**31 - 100, None), ("shift", 8), ("cast", "int32")),
    (("relu",), ("clip", 2**31 - 100, 2**31 - 1), ("shift", 8), ("cast", "int32"))])
def test_a_clip_that_raises_the_value_keeps_the_rounding_shift_exact(steps):
    """A clip whose low limit is above the accumulator's bound raises every value to it: the
    bound after it is that limit's, and the shift's half would wrap there."""
    x = tb.var("x", (1, 2, 3, 8), "int8")
    rng = np.random.default_rng(7)
    weights = tb.param("w", rng.integers(-128, 128, (3, 2, 3, 3)).astype(np.int8))
    bias = tb.param("b", rng.integers(-1000, 1000, (3,)).astype(np.int32))
    term = tb.fused_conv2d(x, weights, bias, epilogue=steps, pads=(1, 1, 1, 1))
    check_epilogue_exact(term, {"x": rng.integers(-128, 128, x.shape).astype(np.int8)})


@pytest.mark.parametrize("relu", [False, True])
def test_the_accumulator_bound_counts_every_tap(relu):
    """x = w = -128 over 3 channels of a 3x3 kernel: acc = 27 x 2^14 and v = acc + bias =
    2^31 - 11, which the bound reaches only with all C x KH x KW taps counted; v + 2^7 wraps, so
    the shift must not fold. On both ISAs' kernels."""
    x = tb.var("x", (1, 3, 3, 10), "int8")
    weights = tb.param("w", np.full((2, 3, 3, 3), -128, np.int8))
    bias = tb.param("b", np.full((2,), 2**31 - 11 - 27 * (1 << 14), np.int32))
    steps = (("relu",),) * relu + (("shift", 8), ("cast", "int32"))
    term = tb.fused_conv2d(x, weights, bias, epilogue=steps)
    for target in targets().values():
        check_epilogue_exact(term, {"x": np.full(x.shape, -128, np.int8)}, target)


def test_a_tile_row_of_8_bit_outputs_narrows_as_one_vector():
    """The epilogue's vectors of a tile row (16 pixels on AVX2: two of 8 lanes) are narrowed to
    int8 and stored as one vector, so the packs work on whole rows; a row of 21 outputs ends in a
    tile of 5, stored lane by lane. Equal to the interpreter on both ISAs' kernels."""
    rng = np.random.default_rng(8)
    x = tb.var("x", (1, 3, 4, 21), "int8")
    weights = tb.param("w", rng.integers(-128, 128, (7, 3, 3, 3)).astype(np.int8))
    bias = tb.param("b", rng.integers(-1000, 1000, (7,)).astype(np.int32))
    term = tb.fused_conv2d(x, weights, bias, epilogue=(("relu",), ("shift", 7), ("clip", -127, 127), ("cast", "int8")),
                           pads=(1, 1, 1, 1))
    avx2 = targets()["avx2"]
    schedule = blocked_schedule(term.op, term.attrs, term.type, [a.type for a in term.args], (False, True, True),
                                avx2.lanes)
    assert schedule is not None and int8conv.geometry(term, schedule).nr == 16
    (text,) = kernel_texts(ft.Program({"y": term}), avx2)
    assert "trunc <16 x i32>" in text and "trunc <8 x i32>" not in text
    for target in targets().values():
        check_epilogue_exact(term, {"x": rng.integers(-128, 128, x.shape).astype(np.int8)}, target)


PARTIAL_WIDTHS = (14, 28, 56, 63)
"""Output rows whose last tile is partial on both ISAs: AVX2's 16-pixel tiles end in 14, 12, 8
and 15 columns, AVX-512's 32-pixel ones in 28, 24 and 31 (a row of 14 is one 16-pixel tile)."""

NARROW_EPILOGUES = ((("shift", 7), ("clip", -128, 127), ("cast", "int8")),
                    (("shift", 5), ("clip", 0, 255), ("cast", "uint8")))
"""Narrowed outputs without a relu, saturating at both ends of int8 and of uint8."""


def partial_tile_convs(width: int) -> list:
    """A 3x3 convolution of 3 channels into 7 on rows of `width` pixels, one per epilogue."""
    rng = np.random.default_rng(width)
    x = tb.var(f"x{width}", (1, 3, 3, width), "int8")
    weights = tb.param(f"w{width}", rng.integers(-128, 128, (7, 3, 3, 3)).astype(np.int8))
    bias = tb.param(f"b{width}", rng.integers(-20000, 20000, (7,)).astype(np.int32))
    return [tb.fused_conv2d(x, weights, bias, epilogue=steps, pads=(1, 1, 1, 1)) for steps in NARROW_EPILOGUES]


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_a_partial_tile_stores_its_row_in_vector_pieces(isa):
    """A partial tile's narrowed row goes out as vectors of the powers of two in its column
    count, largest first (AVX2, 12 int8 columns: 8 then 4 bytes), not lane by lane, and a row
    of several tiles keeps the whole row's vector store for the others. Equal to the interpreter,
    the tails longer than one vector and the outputs saturating at both ends of their type."""
    target = targets()[isa]
    terms = {f"y{width}_{i}": term for width in PARTIAL_WIDTHS for i, term in enumerate(partial_tile_convs(width))}
    for term in terms.values():
        schedule = blocked_schedule(term.op, term.attrs, term.type, [a.type for a in term.args], (False, True, True),
                                    target.lanes)
        assert schedule is not None
        nr, width = int8conv.geometry(term, schedule).nr, term.shape[3]
        tail = width - (width - 1) // nr * nr
        element = "i8"
        (text,) = kernel_texts(ft.Program({"y": term}), target)
        stores = set(re.findall(r"store (<\d+ x i\d+>|i\d+) ", text)) - {"i32", f"<{target.lanes} x i32>"}
        pieces = {f"<{p} x {element}>" if p > 1 else element for p in (16, 8, 4, 2, 1) if tail & p}
        assert stores == pieces | ({f"<{nr} x {element}>"} if width > nr else set()), (width, term.dtype)
    program = ft.Program(terms)
    inputs = {f"x{width}": np.random.default_rng(width).integers(-128, 128, (1, 3, 3, width)).astype(np.int8)
              for width in PARTIAL_WIDTHS}
    mod = build(program, threads=2, target=target)
    got, want = dirty(mod).run(**inputs), ft.evaluate(program, inputs)
    for name, term in terms.items():
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
        info = np.iinfo(want[name].dtype)
        if term.attr("epilogue")[1][0] == "clip":
            assert {info.min if info.min < 0 else 0, info.max} <= set(np.unique(got[name]).tolist()), name


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_a_tile_vector_past_the_row_end_stores_nothing(isa):
    """int32 and float32 outputs store each vector of a tile row alone; in a row of 21 (AVX2,
    tiles of 16: a last tile of 5) or 37 (AVX-512, 32: 5) pixels the last tile's second vector
    lies wholly past the row's end and must store nothing (its negative column count, taken as
    bits, stored 5 lanes of it over the next row and past the output's end). Two images, so the
    last row's overrun lands on the second image's first rows; against the interpreter."""
    target = targets()[isa]
    width = {"avx2": 21, "avx512": 37}[isa]
    rng = np.random.default_rng(width)
    x = tb.var("x", (2, 3, 3, width), "int8")
    weights = tb.param("w", rng.integers(-128, 128, (7, 3, 3, 3)).astype(np.int8))
    bias = tb.param("b", rng.integers(-20000, 20000, (7,)).astype(np.int32))
    terms = {"i": tb.conv2d(x, weights, pads=(1, 1, 1, 1)),
             "f": tb.fused_conv2d(x, weights, bias, epilogue=(("shift", 3), ("cast", "float32")), pads=(1, 1, 1, 1))}
    program = ft.Program(terms)
    inputs = {"x": rng.integers(-128, 128, x.shape).astype(np.int8)}
    got, want = dirty(build(program, threads=2, target=target)).run(**inputs), ft.evaluate(program, inputs)
    for name in terms:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
