"""A batched matmul whose threads take whole batch items (each packing its item's b on its own
stack) and one whose threads share each item (b packed into the arena's scratch) both equal
the interpreter, on the 8- and 16-lane variants, with an odd item count on two threads."""

from __future__ import annotations

import pytest

import frittata as ft
from frittata import terms as T
from frittata.backends.llvm import batched, fastpath
from tests.backends.llvm.helpers import check_on, targets

SHAPES = {
    "items": ((3, 37, 29), (3, 29, 45)),     # b packed: 3 panels of 16 x 29 floats, 5.6 KiB
    "shared": ((3, 21, 300), (3, 300, 70)),  # 5 panels of 16 x 300 floats, 94 KiB: past the stack's 32 KiB
}


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("mode", sorted(SHAPES))
def test_batched_matmul_by_items_and_shared_equal_the_interpreter(mode, threads, isa):
    a_shape, b_shape = SHAPES[mode]
    term = T.matmul(T.var("a", a_shape), T.var("b", b_shape))
    target = targets()[isa]
    g = fastpath._gemm(term, fastpath.schedule(term, target.lanes))
    assert batched.by_items(3, g) == (mode == "items")
    mod = check_on(ft.Program({"y": term}), target, threads=threads)
    assert mod.report["backend"]["fast_paths"] == ["matmul"]
