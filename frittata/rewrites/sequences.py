"""Operand-sequence variables of rule files: `?xs...` stands for any number of operands.

A rule that mentions sequence variables is expanded, before parsing, into one ordinary rule
per choice of their lengths for which every operator's operand count stays within its arity
(`signature.ARITY`, at most `egraph.MAX_ARITY`). `?xs...` with length 2 becomes `?xs-0 ?xs-1`;
the expansion is named `NAME-n1-n2...` after the lengths, in the order the variables first
appear. So `(fused_elementwise ?xs... :expr ?e)` matches a fused kernel of any width, and the
rest of the pipeline (e-graph compiler, property checker) only ever sees fixed-arity rules.
"""

from __future__ import annotations

import itertools
from typing import TypeGuard

from frittata.rewrites.sexpr import Atom, SExpr, SList
from frittata.rewrites.signature import ARITY
from frittata.terms.ops import BY_NAME

SUFFIX = "..."
MAX_LENGTH = 8


def is_sequence(item: SExpr) -> TypeGuard[Atom]:
    """Whether `item` is a sequence variable `?name...`."""
    return (isinstance(item, Atom) and item.kind == "symbol" and isinstance(item.value, str)
            and item.value.startswith("?") and item.value.endswith(SUFFIX) and len(item.value) > 4)


def _names(form: SExpr) -> list[str]:
    if is_sequence(form):
        return [form.value]
    if not isinstance(form, SList):
        return []
    return list(dict.fromkeys(n for item in form.items for n in _names(item)))


def expand_sequences(form: SList) -> list[SList]:
    """The fixed-arity rule forms a `(rule ...)` form stands for (itself if it has no `?xs...`)."""
    names = _names(form)
    if not names:
        return [form]
    out = []
    for lengths in itertools.product(range(MAX_LENGTH + 1), repeat=len(names)):
        expanded = _splice(form, dict(zip(names, lengths)))
        assert isinstance(expanded, SList)
        if _arities_fit(expanded):
            out.append(_renamed(expanded, lengths))
    return out


def _splice(form: SExpr, lengths: dict[str, int]) -> SExpr:
    if not isinstance(form, SList):
        return form
    items: list[SExpr] = []
    for item in form.items:
        if is_sequence(item):
            stem = item.value[:-len(SUFFIX)]
            items.extend(Atom(f"{stem}-{i}", "symbol", item.pos) for i in range(lengths[item.value]))
        else:
            items.append(_splice(item, lengths))
    return SList(tuple(items), form.bracket, form.pos)


def _arities_fit(form: SExpr) -> bool:
    if not isinstance(form, SList):
        return True
    head = form.items[0] if form.items else None
    op = BY_NAME.get(head.value) if isinstance(head, Atom) and isinstance(head.value, str) else None
    if form.bracket == "(" and op is not None:
        rest = form.items[1:]
        count = next((i for i, x in enumerate(rest) if _is_key(x)), len(rest))
        low, high = ARITY[op]
        if not low <= count <= high:
            return False
    return all(_arities_fit(item) for item in form.items)


def _is_key(item: SExpr) -> bool:
    return isinstance(item, Atom) and item.kind == "symbol" and str(item.value).startswith(":")


def _renamed(form: SList, lengths: tuple[int, ...]) -> SList:
    name = form.items[1]
    if not (isinstance(name, Atom) and isinstance(name.value, str)):
        return form
    suffix = "-".join(str(n) for n in lengths)
    return SList((form.items[0], Atom(f"{name.value}-{suffix}", "symbol", name.pos)) + form.items[2:],
                 form.bracket, form.pos)
