"""Compiling `Rule` values into egglog rules (the only place rules meet egglog).

The left pattern becomes an egglog query over `apply` e-nodes with the operator names as
constants. Each operator's operands are an `Operands` list variable bound to a cons pattern: a
fixed operand is a `cons` cell, a sequence variable that ends the list is the rest of the list,
and one followed by more operands is cut out with `last` (one fixed operand follows it to the
end) or `split` (`sequences` gives the meaning). The end of a list of fixed operands is a fresh
variable, equal to `nil` only when the operator's arity does not already imply it: one shared
`nil` constant in a query with two list patterns made egglog's planner pair every list ending
in `nil` with every other (measured: (add (dense ?x ?w) ?b) over 250 of each took 15 s, against
0.07 s with free ends and 0.14 s with one `nil` variable per list).

Each operator's attributes and the types of each tensor variable (`ty`), sequence (`types`) and
of the root are bound in the query and handed, with the rule (a `RuleRef`), to `matching.egraph_match`
(one Python call per match), which checks attribute patterns, guards and the right side's
typing. (Binding the types of whole operand lists instead was measured 8x slower on ResNet-18's
fusion rules: egglog's planner joins those rows early.) `param-only`, `depends-on-input` and
`single-use` guards become `param_only`, `on_input` and `single_use` facts. The action builds the right side (sequences
spliced with `append`) and unions it with
the matched class.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import NamedTuple

from egglog import PyObject, rule, ruleset, union, var

from frittata.rewrites.egraph import (Operands, Tensor, analysis_with, apply, cons, eq_, is_true, nil, on_input,
                                      operand_list, param_only, cut_seed, last, single_use, split, ty, types)
from frittata.rewrites.exprs import Var
from frittata.rewrites.matching import RuleRef, egraph_match, pattern_nodes, pick, tensor_vars
from frittata.rewrites.rule_format import Pattern, PSeq, PVar, Rule
from frittata.rewrites.sequences import seq_vars
from frittata.rewrites.signature import ARITY
from frittata.terms.ops import Op


STRUCTURAL = {"param-only": param_only, "depends-on-input": on_input, "single-use": single_use}
"""Guards decided by the e-graph's analyses (a fact per named tensor), not by `egraph_match`."""


class CompiledRules(NamedTuple):
    """An egglog ruleset, and the analyses to saturate after each of its steps."""

    rules: object
    analysis: object


class _Query:
    """Egglog variables and facts for one left pattern."""

    def __init__(self, rule_: Rule) -> None:
        self.tensors = {n: var(f"v{i}", Tensor) for i, n in enumerate(tensor_vars(rule_.lhs))}
        self.seqs = {n: var(f"s{i}", Operands) for i, n in enumerate(seq_vars(rule_.lhs))}
        self.attrs: list = []
        self.facts: list = []
        self.cut: set[tuple[str, str]] = set()
        self.count = 0

    def fresh(self):
        """A new `Operands` variable."""
        self.count += 1
        return var(f"l{self.count}", Operands)

    def lhs(self, pattern: Pattern):
        if isinstance(pattern, PVar):
            return self.tensors[pattern.name]
        operands = self.fresh()
        self.facts.append(eq_(operands, self.operands(pattern.op, pattern.args)))
        attrs = var(f"a{len(self.attrs)}", PyObject)
        self.attrs.append(attrs)
        expr = apply(pattern.op.value, attrs, operands)
        if pattern.bind is None:
            return expr
        self.facts.append(eq_(self.tensors[pattern.bind], expr))
        return self.tensors[pattern.bind]

    def operands(self, op: Op, items: tuple):
        """The list pattern of `items`: cons cells, a tail sequence, or a `last` / `split` cut."""
        if not items:
            return self.end(op)
        first, rest = items[0], items[1:]
        if not isinstance(first, PSeq):
            return cons(self.lhs(first), self.operands(op, rest))
        if not rest:
            return self.seqs[first.name]
        cut = self.fresh()
        if len(rest) == 1 and not isinstance(rest[0], PSeq):
            self.facts.append(last(cut, self.seqs[first.name], self.lhs(rest[0])))
            self.cut.add(("last", op.value))
            return cut
        self.facts.append(split(cut, self.seqs[first.name], self.operands(op, rest)))
        self.cut.add(("split", op.value))
        return cut

    def end(self, op: Op):
        """The end of a list of fixed operands: a free variable if `op`'s arity implies it."""
        end = self.fresh()
        low, high = ARITY[op]
        if low != high:
            self.facts.append(eq_(end, nil()))
        return end


@functools.cache
def compile_rule(rule_: Rule):
    """One one-way `Rule` as an egglog rule named like it, and the operators it cuts (memoised)."""
    query = _Query(rule_)
    root = var("root", Tensor)
    facts = [eq_(root, query.lhs(rule_.lhs))] + query.facts
    typed = [ty(t) for t in query.tensors.values()] + [types(s) for s in query.seqs.values()] + [ty(root)]
    values = [var(f"y{i}", PyObject) for i in range(len(typed))]
    facts += [eq_(t, y) for t, y in zip(typed, values)]
    for guard in rule_.guards:
        if guard.fn in STRUCTURAL:
            facts.extend(STRUCTURAL[guard.fn](query.tensors[a.name]) for a in guard.args if isinstance(a, Var))
    result = var("match", PyObject)
    call = PyObject(egraph_match)(PyObject(RuleRef.of(rule_).index), PyObject(len(query.attrs)), *query.attrs,
                                   *values)
    facts += [eq_(result, call), is_true(result)]
    counter = iter(range(1, len(pattern_nodes(rule_.rhs)) + 1))
    rhs = _rhs(rule_.rhs, query, result, counter)
    return rule(*facts, name=rule_.name).then(union(root).with_(rhs)), frozenset(query.cut)


def _rhs(pattern: Pattern, query: _Query, result, counter):
    """The right side as an egglog expression; attributes come from the match result."""
    if isinstance(pattern, PVar):
        return query.tensors[pattern.name]
    kids = [query.seqs[a.name] if isinstance(a, PSeq) else _rhs(a, query, result, counter) for a in pattern.args]
    attrs = PyObject(pick)(result, PyObject(next(counter)))
    return apply(pattern.op.value, attrs, operand_list(kids))


def compile_rules(rules: Iterable[Rule], name: str) -> CompiledRules:
    """An egglog ruleset holding every direction of `rules`, and the analyses it needs."""
    compiled = [compile_rule(one) for r in rules for one in r.directions()]
    cut = sorted(set().union(*(ops for _, ops in compiled)))
    return CompiledRules(ruleset(*(r for r, _ in compiled), name=name), analysis_with(tuple(cut_seed(*c) for c in cut)))
