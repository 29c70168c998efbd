"""Compiling `Rule` values into egglog rules (the only place rules meet egglog).

The left pattern becomes an egglog query over `n<k>` e-nodes with the operator names as
constants; each operator's attributes and each tensor variable's type are bound in the query
and handed, with the rule itself, to `matching.egraph_match` (one Python call per match) which
checks attribute patterns, guards and the right side's typing. `param-only` guards become
`param_only` facts. The action builds the right side and unions it with the matched class.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from egglog import PyObject, rule, ruleset, union, var

from frittata.rewrites.egraph import Tensor, eq_, is_true, node, param_only, ty
from frittata.rewrites.exprs import Var
from frittata.rewrites.matching import egraph_match, pattern_nodes, pick, tensor_vars
from frittata.rewrites.rules import Pattern, PVar, Rule


class _Query:
    """Egglog variables and facts for one left pattern."""

    def __init__(self, rule_: Rule) -> None:
        names = tensor_vars(rule_.lhs)
        self.tensors = {n: var(f"v{i}", Tensor) for i, n in enumerate(names)}
        self.attrs: list = []
        self.facts: list = []

    def lhs(self, pattern: Pattern):
        if isinstance(pattern, PVar):
            return self.tensors[pattern.name]
        kids = tuple(self.lhs(a) for a in pattern.args)
        attrs = var(f"a{len(self.attrs)}", PyObject)
        self.attrs.append(attrs)
        expr = node(pattern.op.value, attrs, kids)
        if pattern.bind is None:
            return expr
        self.facts.append(eq_(self.tensors[pattern.bind], expr))
        return self.tensors[pattern.bind]


@functools.cache
def compile_rule(rule_: Rule):
    """One one-way `Rule` as an egglog rule named like it (memoised: rules are immutable)."""
    query = _Query(rule_)
    root = var("root", Tensor)
    facts = [eq_(root, query.lhs(rule_.lhs))] + query.facts
    tys = [var(f"y{i}", PyObject) for i in range(len(query.tensors) + 1)]
    for tensor, y in zip(list(query.tensors.values()) + [root], tys):
        facts.append(eq_(ty(tensor), y))
    for guard in rule_.guards:
        if guard.fn == "param-only":
            facts.extend(param_only(query.tensors[a.name]) for a in guard.args if isinstance(a, Var))
    result = var("match", PyObject)
    call = PyObject(egraph_match)(PyObject(rule_), PyObject(len(query.attrs)), *query.attrs, *tys)
    facts += [eq_(result, call), is_true(result)]
    counter = iter(range(1, len(pattern_nodes(rule_.rhs)) + 1))
    rhs = _rhs(rule_.rhs, query.tensors, result, counter)
    return rule(*facts, name=rule_.name).then(union(root).with_(rhs))


def _rhs(pattern: Pattern, tensors: dict, result, counter):
    """The right side as an egglog expression; attributes come from the match result."""
    if isinstance(pattern, PVar):
        return tensors[pattern.name]
    kids = tuple(_rhs(a, tensors, result, counter) for a in pattern.args)
    attrs = PyObject(pick)(result, PyObject(next(counter)))
    return node(pattern.op.value, attrs, kids)


def compile_rules(rules: Iterable[Rule], name: str):
    """An egglog ruleset holding every direction of `rules`."""
    compiled = [compile_rule(one) for r in rules for one in r.directions()]
    return ruleset(*compiled, name=name)

