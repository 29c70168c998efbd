"""The register-blocked direct convolution (`conv`) with its default schedule, stride 1 and one
group, equals the interpreter on both ISAs (`helpers.targets`): with 16 lanes a register tile is
24 output channels by one vector of pixels, or 12 by two (32 vector registers), twice AVX2's;
the shapes reach past those tiles (output channels, rows of one vector and of two with a partial
last one), several input-channel blocks and a partial one, dilation, uneven padding, the
epilogues, and weights computed at run time."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

import frittata as ft
from frittata.backends.llvm.fastpath import schedule
from frittata.terms import builders as tb
from frittata.terms.cpu_schedules import kernel_of
from tests.backends.llvm.helpers import check_on, rand, targets
from tests.conftest import compiling

STEPS = [(), (("relu",),), (("clip", 0.0, 6.0),), (("add",), ("relu",))]


@st.composite
def direct_convs(draw):
    c, o = draw(st.integers(1, 40), label="c"), draw(st.integers(1, 52), label="o")
    kh, kw = draw(st.sampled_from([(3, 3), (5, 5), (3, 1), (1, 3), (2, 2)]), label="kernel")
    dilations = draw(st.sampled_from([(1, 1), (2, 2), (1, 2)]), label="dilations")
    pads = tuple(draw(st.lists(st.integers(0, 2), min_size=4, max_size=4), label="pads"))
    reach_h, reach_w = (kh - 1) * dilations[0] + 1, (kw - 1) * dilations[1] + 1
    h = draw(st.integers(max(1, reach_h - pads[0] - pads[2]), 9), label="h")
    w = draw(st.integers(max(1, reach_w - pads[1] - pads[3]), 40), label="w")
    x = tb.var("x", (draw(st.integers(1, 2)), c, h, w))
    weights = tb.var("w", (o, c, kh, kw)) if draw(st.booleans(), label="computed weights") else \
        tb.param("w", rand((o, c, kh, kw), seed=5, scale=0.3))
    attrs = {"pads": pads, "dilations": dilations}
    steps = draw(st.sampled_from(STEPS), label="steps")
    plain = tb.conv2d(x, weights, **attrs)
    if not steps and draw(st.booleans(), label="plain"):
        return plain
    residual = (tb.var("r", plain.shape),) if ("add",) in steps else ()
    return tb.fused_conv2d(x, weights, tb.param("b", rand((o,), seed=6)), *residual, epilogue=steps, **attrs)


@compiling
@given(term=direct_convs(), isa=st.sampled_from(["avx2", "avx512"]), threads=st.sampled_from([1, 2]))
def test_the_direct_convolution_equals_the_interpreter(term, isa, threads):
    target = targets()[isa]
    blocked = schedule(term, target.lanes)
    assert blocked is not None and kernel_of(blocked) == "blocked"
    mod = check_on(ft.Program({"y": term}), target, threads)
    assert mod.report["backend"]["fast_paths"] == [term.op.value]
