"""The generators reach the shapes the kernels specialize on (issue 21 measured the old ones: of
400 programs 4% had a convolution, none one with >= 16 output channels, none a dense layer
with n >= 8, and the median largest tensor had 12 elements)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings

from frittata.terms.ops import Op
from tests.strategies import programs, vta_programs

# a fixed sample measured, not a property checked: the count is the sample's size
SAMPLE = settings(max_examples=200, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
CONVS = (Op.CONV2D, Op.FUSED_CONV2D)
DENSES = (Op.DENSE, Op.MATMUL, Op.FUSED_DENSE)


def _sample(strategy) -> list:
    drawn = []

    @SAMPLE
    @given(strategy)
    def collect(program):
        drawn.append(program)

    collect()
    return drawn


def test_float_programs_reach_kernel_shapes():
    """Measured on this sample of 200: 36% with a convolution, 21% one with >= 16 output channels,
    32% a dense layer with n >= 8, 30% a fused kernel, 10% a convolution whose channels are not
    a multiple of 8; median largest tensor 960 elements, largest 128000."""
    stats = []
    for program in _sample(programs()):
        terms = list(program.terms())
        convs = [t for t in terms if t.op in CONVS]
        denses = [t for t in terms if t.op in DENSES]
        stats.append((bool(convs), any(c.shape[1] >= 16 for c in convs), any(d.shape[-1] >= 8 for d in denses),
                      any(t.op in (Op.FUSED_CONV2D, Op.FUSED_DENSE) for t in terms),
                      any(c.shape[1] % 8 and c.shape[1] > 8 for c in convs),
                      max(t.type.size for t in terms)))
    conv, wide, dense, fused, ragged, largest = np.array(stats).T
    assert conv.mean() >= 0.3 and wide.mean() >= 0.15 and dense.mean() >= 0.25 and fused.mean() >= 0.25
    assert ragged.mean() >= 0.05 and np.median(largest) >= 500 and largest.max() >= 50_000


def test_vta_programs_cover_both_8_bit_types_zero_points_and_ragged_blocks():
    seen = set()
    for program in _sample(vta_programs()):
        x = program.inputs["x"]
        ops = {t.op for t in program.terms()}
        contraction = next(t for t in program.terms() if t.op in (Op.CONV2D, Op.DENSE))
        n = contraction.shape[1] if contraction.op == Op.CONV2D else contraction.shape[-1]
        seen |= {x.dtype, "zero point" if Op.SUB in ops else "none", contraction.op.value,
                 "ragged" if n % 16 else "blocks", "wide" if n >= 64 else "narrow"}
    assert seen >= {"int8", "uint8", "zero point", "none", "conv2d", "dense", "ragged", "blocks", "wide", "narrow"}
