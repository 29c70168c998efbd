"""`cpu_geometry.depthwise_registers` against the object code: a depthwise tile that needs more
vector registers than its ISA has (with the tap vectors its rows' branched stores hold,
`depthwise_held_taps`) reads and writes the stack in its kernel; one that needs no more does not
(or barely: a few stack accesses outside the tiles). The AVX-512 code is Zen 4's (where the tiles
were measured), compiled on any host: only its object code is read."""

import re

import pytest

from frittata.terms import builders as tb
from frittata.terms.cpu_geometry import depthwise_held_taps, depthwise_registers, registers_for
from frittata.terms.tiled import DEPTHWISE_KEYS, tiled_conv2d
from frittata.backends.jit import Machine
from tests.backends.llvm.helpers import rand, targets
from tests.backends.llvm.test_avx512_kernels import kernel_code

STACK = re.compile(r"%[xyz]mm\d+.*\((%rsp|%rbp)\)|\((%rsp|%rbp)\).*%[xyz]mm\d+")

TILES = [  # isa, k, output rows and columns, rows x vectors of the tile
    ("avx512", 5, 16, 14, 4, 1), ("avx512", 5, 16, 14, 2, 1), ("avx512", 5, 16, 16, 4, 1),
    ("avx512", 3, 16, 30, 4, 2), ("avx512", 3, 16, 30, 2, 2),
    ("avx2", 3, 16, 14, 4, 2), ("avx2", 3, 16, 16, 4, 1), ("avx2", 3, 16, 6, 4, 1), ("avx2", 3, 16, 6, 2, 1),
]


def _stack_accesses(isa: str, k: int, oh: int, ow: int, rows: int, vectors: int) -> int:
    machine = Machine.parse("llvm -mcpu=znver4") if isa == "avx512" else targets()[isa]
    lanes = machine.lanes
    x = tb.var("x", (1, 8, oh, ow))
    w, b = tb.param("w", rand((8, 1, k, k), seed=1)), tb.param("b", rand((8,), seed=2))
    s = {"kernel": "depthwise", "vec": lanes, "oh_block": rows, "oh_tail": oh % rows, "ow_block": vectors * lanes,
         "ow_tail": ow % (vectors * lanes), "parallel": "channel"}
    term = tiled_conv2d(x, w, b, pads=(k // 2,) * 4, groups=8, epilogue=(("clip", 0.0, 6.0),),
                        schedule=tuple((key, s[key]) for key in DEPTHWISE_KEYS))
    return sum(len(STACK.findall(code)) for code in kernel_code(term, machine)[1].values())


@pytest.mark.parametrize(("isa", "k", "oh", "ow", "rows", "vectors"), TILES)
def test_a_depthwise_tile_spills_where_it_needs_more_registers_than_the_isa_has(isa, k, oh, ow, rows, vectors):
    """Rows of `ow` columns end in a partial vector (14 on 16 lanes, 30 on 16, 14 and 6 on 8) or
    not (16): the stores of a tile of three or more rows then branch and its held taps count."""
    lanes = 16 if isa == "avx512" else 8
    branched = ow % lanes != 0 and ow <= vectors * lanes
    held = depthwise_held_taps((k, k), 1, 1, rows, vectors) if branched else 0
    spills = depthwise_registers(k * k, rows, vectors, held) > registers_for(lanes)
    accesses = _stack_accesses(isa, k, oh, ow, rows, vectors)
    assert accesses > 10 if spills else accesses <= 4, (depthwise_registers(k * k, rows, vectors, held), accesses)
