"""The meaning of one rule match, shared by the e-graph and the rule checker.

Given the attributes of the left side's operator nodes and the types of its tensor variables,
`bind_lhs` checks the attribute patterns and binds attribute variables; `build_rhs` evaluates
the right side's attributes and infers its types bottom-up. A match counts only if every guard
holds and the right side is well typed with exactly the left side's type: so even a careless
user rule cannot put an ill-typed node into the e-graph (the checker still reports it).
A rule with sequence variables is judged on its instance of the matched lengths
(`sequences.instantiate`).
"""

from __future__ import annotations

from collections.abc import Sequence

from frittata.errors import FrittataTypeError
from frittata.rewrites.exprs import Var, evaluate, holds
from frittata.rewrites.rule_format import Pattern, PNode, PSeq, PVar, Rule
from frittata.rewrites.sequences import element, instantiate, seq_vars
from frittata.rewrites.signature import canonical_attrs
from frittata.terms.attr_keys import exact_cache, exact_key, same_number
from frittata.terms.dtypes import TensorType
from frittata.terms.infer import infer_type

ROOT = "$root"
_EVAL_ERRORS = (FrittataTypeError, KeyError, IndexError, TypeError, ValueError, ZeroDivisionError)


def pattern_nodes(pattern: Pattern | PSeq) -> list[PNode]:
    """Operator nodes of a pattern, children before parents (the order of their attributes)."""
    if isinstance(pattern, (PVar, PSeq)):
        return []
    return [n for a in pattern.args for n in pattern_nodes(a)] + [pattern]


def tensor_vars(pattern: Pattern | PSeq) -> list[str]:
    """Tensor variables (operands and `as` names) of a left side, sorted, without repeats."""
    if isinstance(pattern, PSeq):
        return []
    if isinstance(pattern, PVar):
        return [pattern.name]
    names = {v for a in pattern.args for v in tensor_vars(a)}
    return sorted(names | ({pattern.bind} if pattern.bind else set()))


def bind_lhs(rule: Rule, node_attrs: Sequence[tuple], types: dict[str, TensorType]) -> dict | None:
    """The variable environment of a match, or None if an attribute pattern fails.

    A variable met again must hold the very value it bound (`exact_key`: `-0.0` is not `0.0`,
    `1.0` not `1`); a written value matches by `same_number` (`:value 0` matches 0 and 0.0, not
    -0.0, for which `x + c` is not `x`). Python's `==` would call all of these equal."""
    env: dict[str, object] = dict(types)
    for pnode, attrs in zip(pattern_nodes(rule.lhs), node_attrs):
        given = dict(attrs)
        for name, expr in pnode.attrs:
            value = given[name]
            if isinstance(expr, Var) and expr.name not in env:
                env[expr.name] = value
            elif isinstance(expr, Var) and not isinstance(env[expr.name], TensorType):
                if exact_key(env[expr.name]) != exact_key(value):
                    return None
            elif not same_number(evaluate(expr, env), value):
                return None
    return env


class _Typed:
    __slots__ = ("type",)

    def __init__(self, ty: TensorType) -> None:
        self.type = ty


def build_rhs(rule: Rule, env: dict) -> list[tuple] | None:
    """Attributes of the right side's nodes (in `pattern_nodes` order) if it is well typed."""
    out: list[tuple] = []

    def go(pattern: Pattern) -> TensorType:
        if isinstance(pattern, PVar):
            return env[pattern.name]
        kids = [_Typed(go(a)) for a in pattern.args]
        attrs = canonical_attrs(pattern.op, {n: evaluate(e, env) for n, e in pattern.attrs})
        out.append(attrs)
        return infer_type(pattern.op, tuple(kids), dict(attrs))

    try:
        root = go(rule.rhs)
    except _EVAL_ERRORS:
        return None
    return out if root == env[ROOT] else None


def guards_hold(rule: Rule, env: dict) -> bool:
    return all(holds(g, env) for g in rule.guards)


def match(rule: Rule, node_attrs: Sequence[tuple], types: dict) -> list[tuple] | None:
    """Right-side attributes for a match of `rule`, or None if it must not fire.

    `types` maps tensor variables to their TensorType and sequence variables to a tuple of
    them; the match is judged on the instance of those lengths.
    """
    sequences = seq_vars(rule.lhs)
    if sequences:
        rule = instantiate(rule, tuple(len(types[s]) for s in sequences))
        types = {**types, **{element(s, i): t for s in sequences for i, t in enumerate(types[s])}}
    try:
        env = bind_lhs(rule, node_attrs, types)
    except _EVAL_ERRORS:
        return None
    if env is None or not guards_hold(rule, env):
        return None
    return build_rhs(rule, env)


class RuleRef:
    """A rule as the e-graph carries it: its index in a process-wide table of interned rules.
    egglog pickles the Python objects it passes to `egraph_match` and unpickles them on every
    call; a whole rule is dozens of dataclasses (ResNet-18's saturation spent a tenth of its
    time unpickling and hashing them), an index is one integer."""

    __slots__ = ("index",)
    _rules: list[Rule] = []
    _indices: dict[Rule, int] = {}

    def __init__(self, index: int) -> None:
        self.index = index

    @classmethod
    def of(cls, rule: Rule) -> RuleRef:
        if rule not in cls._indices:
            cls._indices[rule] = len(cls._rules)
            cls._rules.append(rule)
        return cls(cls._indices[rule])

    @property
    def rule(self) -> Rule:
        return self._rules[self.index]

    def __reduce__(self):
        return (RuleRef, (self.index,))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RuleRef) and other.index == self.index

    def __hash__(self) -> int:
        return hash(("RuleRef", self.index))


@exact_cache(maxsize=1 << 16)
def egraph_match(rule_index: int, n_nodes: int, *values) -> object:
    """Called by egglog: the rule's `RuleRef` index (a plain int, so the cache key is cheap),
    node attributes, then the `(shape, dtype)` literals of the tensor
    variables (`tensor_vars` order), the tuples of them of the sequences (`seq_vars` order)
    and the literal of the root. A match is a pure function of these, and the repeated blocks
    of a network ask the same question again and again (ResNet-18: 2488 calls, 799 distinct),
    so answers are remembered, by exact value (`exact_cache`): the answer for a clip at 0.0 would
    build the right side of one at -0.0 with a 0.0 bound, an unsound union."""
    rule = RuleRef(rule_index).rule
    names = tensor_vars(rule.lhs)
    sequences = seq_vars(rule.lhs)
    literals = values[n_nodes:]
    types: dict = {n: _type(v) for n, v in zip(names + [ROOT], literals[:len(names)] + literals[-1:])}
    types.update({s: tuple(_type(t) for t in v) for s, v in zip(sequences, literals[len(names):-1])})
    found = match(rule, values[:n_nodes], types)
    return False if found is None else (True, *found)


def _type(literal: tuple) -> TensorType:
    return TensorType(tuple(literal[0]), literal[1])


def pick(result: tuple, index: int) -> object:
    """Called by egglog: one item of an `egraph_match` result."""
    return result[index]
