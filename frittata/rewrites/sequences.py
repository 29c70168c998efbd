"""Operand-sequence variables of rules: `?xs...` stands for any number of operands.

Meaning. A rule with sequence variables stands for all of its *instances*: every `?xs...`
replaced by n fresh tensor variables `?xs#0 .. ?xs#(n-1)` (the same n at each occurrence),
for every choice of lengths that keeps each operator within its arity (`signature.ARITY`).
No length is bounded.

Matching. The e-graph matches every length at once (`frittata.rewrites.compile`): operands
are a cons list, so a sequence variable that ends an operand list is a list variable, and one
followed by more operands (`?y ?ys... (fused_elementwise ...)`) cuts its list with the
e-graph's `split` analysis (l = p ++ r), computed only for the operand lists of operators that
such a pattern names. A match is judged on the instance of the lengths it bound
(`matching.match`), and the rule checker draws lengths (`draw_instance`), so matching and
checking share this one meaning.
"""

from __future__ import annotations

import functools

import numpy as np

from frittata.rewrites.rule_format import Pattern, PNode, PSeq, PVar, Rule
from frittata.rewrites.signature import arity_fits

DRAW_ATTEMPTS = 20
"""Tries of `draw_instance` to find lengths that fit every operator's arity."""


def seq_vars(pattern: Pattern | PSeq) -> list[str]:
    """Sequence variables of a pattern, in order of first appearance."""
    if isinstance(pattern, PSeq):
        return [pattern.name]
    if isinstance(pattern, PVar):
        return []
    return list(dict.fromkeys(n for a in pattern.args for n in seq_vars(a)))


def element(name: str, i: int) -> str:
    """The tensor variable standing for item i of sequence `name` in an instance."""
    return f"{name}#{i}"


@functools.lru_cache(maxsize=4096)
def instantiate(rule: Rule, lengths: tuple[int, ...]) -> Rule:
    """The fixed-arity instance of `rule` with its sequences (`seq_vars` order) of `lengths`."""
    sizes = dict(zip(seq_vars(rule.lhs), lengths))
    if not sizes:
        return rule
    rhs = _splice(rule.rhs, sizes) if isinstance(rule.rhs, PNode) else rule.rhs
    return Rule(rule.name, rule.family, _splice(rule.lhs, sizes), rhs, rule.guards,
                rule.bidirectional, rule.where, rule.target)


def _splice(pattern: PNode, sizes: dict[str, int]) -> PNode:
    args: list[Pattern] = []
    for arg in pattern.args:
        if isinstance(arg, PSeq):
            args.extend(PVar(element(arg.name, i)) for i in range(sizes[arg.name]))
        elif isinstance(arg, PNode):
            args.append(_splice(arg, sizes))
        else:
            args.append(arg)
    return PNode(pattern.op, tuple(args), pattern.attrs, pattern.bind)


def fits(pattern: Pattern) -> bool:
    """Whether every operator of a fixed-arity pattern has an operand count it takes."""
    if isinstance(pattern, PVar):
        return True
    return arity_fits(pattern.op, len(pattern.args)) and all(fits(a) for a in pattern.args)


def draw_instance(rule: Rule, rng: np.random.Generator) -> Rule | None:
    """An instance of `rule` with random sequence lengths (mostly short) that fits, or None."""
    names = seq_vars(rule.lhs)
    if not names:
        return rule
    for _ in range(DRAW_ATTEMPTS):
        lengths = tuple(int(n) for n in rng.geometric(0.35, size=len(names)) - 1)
        instance = instantiate(rule, lengths)
        if fits(instance.lhs) and fits(instance.rhs):
            return instance
    return None
