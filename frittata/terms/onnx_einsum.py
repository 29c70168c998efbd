"""ONNX import of Einsum with one or two operands: transposes, sums and one batched matmul.

Letters of an operand that neither the other operand nor the output has are summed first.
Then, for two operands, the letters in both operands and the output are batch axes, those in
both operands only are contracted, and the rest are kept: A becomes [batch, kept_a, contracted],
B [batch, contracted, kept_b], one matmul multiplies them, and the result is reshaped and
transposed into the output's order. An ellipsis stands for letters of its own (the operands'
ellipsis axes aligned from the right, as numpy broadcasts them), and a letter repeated in one
operand takes that operand's diagonal first (a gather of the positions i * (n + 1) of the two
axes flattened).
"""

from __future__ import annotations

import math

from frittata.terms import builders as tb
from frittata.terms.onnx_node import NodeView, unsupported
from frittata.terms.term import Term


SPARE = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
"""Letters an ellipsis expands to (ONNX equations use lower-case letters)."""


def parse(equation: str, ranks: list[int]) -> tuple[list[str], str]:
    """Operand letter strings and output letters (implicit output: the ellipsis's letters, then
    the letters seen once, sorted), with each ellipsis expanded to letters of its own."""
    equation = equation.replace(" ", "")
    inputs, _, output = equation.partition("->")
    operands = inputs.split(",")
    if len(operands) != len(ranks) or len(ranks) not in (1, 2):
        raise unsupported(f"Einsum {equation!r} of {len(ranks)} operand(s); expected 1 or 2")
    width = max((rank - len(s.replace("...", "")) for s, rank in zip(operands, ranks) if "..." in s), default=0)
    spare = SPARE[:width]
    operands = [s.replace("...", spare[len(spare) - (rank - len(s.replace("...", ""))):])
                for s, rank in zip(operands, ranks)]
    if "->" not in equation:
        letters = "".join(operands)
        output = spare + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in spare))
    return operands, output.replace("...", spare)


def _diagonals(x: Term, letters: str) -> tuple[Term, str]:
    """x with each letter repeated in `letters` reduced to its diagonal (one axis per letter)."""
    for c in dict.fromkeys(letters):
        while letters.count(c) > 1:
            p, q = letters.index(c), letters.index(c, letters.index(c) + 1)
            n = x.shape[p]
            if x.shape[q] != n:
                raise unsupported(f"Einsum diagonal of letter {c!r} over axes of {n} and {x.shape[q]}")
            rest = [i for i in range(len(letters)) if i not in (p, q)]
            moved = tb.transpose(x, rest + [p, q])
            flat = tb.reshape(moved, tuple(x.shape[i] for i in rest) + (n * n,))
            x = tb.gather(flat, [i * (n + 1) for i in range(n)], len(rest))
            letters = "".join(letters[i] for i in rest) + c
    return x, letters


def _sum_out(x: Term, letters: str, keep: set[str]) -> tuple[Term, str]:
    """Sum the axes whose letters are not in `keep`."""
    axes = [i for i, c in enumerate(letters) if c not in keep]
    if not axes:
        return x, letters
    return tb.reduce_sum(x, axes), "".join(c for c in letters if c in keep)


def _arrange(x: Term, letters: str, order: str) -> Term:
    perm = [letters.index(c) for c in order]
    return x if perm == sorted(perm) else tb.transpose(x, perm)


def einsum(xs: list[Term], operands: list[str], output: str) -> Term:
    diagonals = [_diagonals(x, letters) for x, letters in zip(xs, operands)]
    xs, operands = [x for x, _ in diagonals], [letters for _, letters in diagonals]
    if len(xs) == 1:
        x, letters = _sum_out(xs[0], operands[0], set(output))
        return _arrange(x, letters, output)
    (a, la), (b, lb) = _sum_out(xs[0], operands[0], set(operands[1] + output)), \
        _sum_out(xs[1], operands[1], set(operands[0] + output))
    sizes = dict(zip(la, a.shape)) | dict(zip(lb, b.shape))
    if any(sizes[c] != b.shape[lb.index(c)] for c in la if c in lb):
        raise unsupported(f"Einsum operands {a.type}, {b.type} disagreeing on a shared letter's size")
    batch = [c for c in la if c in lb and c in output]
    contracted = [c for c in la if c in lb and c not in output]
    kept_a, kept_b = [c for c in la if c not in lb], [c for c in lb if c not in la]

    def size(letters: list[str]) -> int:
        return math.prod(sizes[c] for c in letters)

    left = tb.reshape(_arrange(a, la, "".join(batch + kept_a + contracted)),
                      (size(batch), size(kept_a), size(contracted)))
    right = tb.reshape(_arrange(b, lb, "".join(batch + contracted + kept_b)),
                       (size(batch), size(contracted), size(kept_b)))
    product = tb.reshape(tb.matmul(left, right), [sizes[c] for c in batch + kept_a + kept_b])
    return _arrange(product, "".join(batch + kept_a + kept_b), output)


def _einsum(n: NodeView) -> Term:
    xs = n.terms()
    operands, output = parse(n.attr("equation"), [x.type.rank for x in xs])
    return einsum(xs, operands, output)


EINSUM_CONVERTERS = {"Einsum": _einsum}
