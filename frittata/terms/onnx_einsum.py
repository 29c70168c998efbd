"""ONNX import of Einsum with one or two operands: transposes, sums and one batched matmul.

Letters of an operand that neither the other operand nor the output has are summed first.
Then, for two operands, the letters in both operands and the output are batch axes, those in
both operands only are contracted, and the rest are kept: A becomes [batch, kept_a, contracted],
B [batch, contracted, kept_b], one matmul multiplies them, and the result is reshaped and
transposed into the output's order. Ellipses and repeated letters in one operand (diagonals)
are not supported.
"""

from __future__ import annotations

import math

from frittata.terms import builders as tb
from frittata.terms.onnx_node import NodeView, unsupported
from frittata.terms.term import Term


def parse(equation: str, count: int) -> tuple[list[str], str]:
    """Operand letter strings and output letters (implicit output: letters seen once, sorted)."""
    equation = equation.replace(" ", "")
    if "..." in equation:
        raise unsupported(f"Einsum with an ellipsis ({equation!r})")
    inputs, _, output = equation.partition("->")
    operands = inputs.split(",")
    if len(operands) != count or count not in (1, 2):
        raise unsupported(f"Einsum {equation!r} of {count} operand(s); expected 1 or 2")
    if any(len(set(s)) != len(s) for s in operands):
        raise unsupported(f"Einsum {equation!r} repeating a letter in one operand (a diagonal)")
    if "->" not in equation:
        letters = "".join(operands)
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return operands, output


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
    operands, output = parse(n.attr("equation"), len(xs))
    return einsum(xs, operands, output)


EINSUM_CONVERTERS = {"Einsum": _einsum}
