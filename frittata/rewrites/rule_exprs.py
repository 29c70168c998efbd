"""Parsing the attribute expressions and guards of one rule into `exprs` values.

An expression is a constant, a `?var`, a `$parameter` (a constant bound at load time), a
tuple `[e ...]` or a call `(fn e ...)` of `exprs.FUNCTIONS`; a guard is a call of
`exprs.PREDICATES`. Two functions are resolved here, at load time, because they read the left
pattern rather than a match: `(op-name ?y)` is the operator name of the left node named `?y`
(with `(as ?y ...)`), and `(attr-values ?y)` is the tuple of its attribute values in the
operator's attribute order (each given on the left, or carried with `...`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeGuard

from frittata.rewrites.exprs import FUNCTIONS, PREDICATES, Call, Expr, Lit, Tup, Var
from frittata.rewrites.rule_templates import CONSTANTS, is_param, param_value
from frittata.rewrites.sexpr import Atom, Pos, SExpr, SList
from frittata.rewrites.signature import OP_ATTRS, plain
from frittata.terms.ops import Op

NODE_FUNCTIONS = ("op-name", "attr-values")

VarLookup = Callable[[Atom, "str | None", bool], str]
"""(item, kind, left) -> the variable's name, checking its kind and that it is bound."""


class ExprParser:
    """Expressions of one rule; `nodes` are its named left nodes (operator, attributes)."""

    def __init__(self, var: VarLookup, params: Mapping[str, object],
                 nodes: Mapping[str, tuple[Op, dict[str, Expr]]]) -> None:
        self.var, self.params, self.nodes = var, params, nodes
        self.used: set[str] = set()

    def lhs_attr(self, item: SExpr) -> Expr:
        """A left-side attribute: `?var` (binds, or compares if bound) or a constant."""
        if is_var(item):
            return Var(self.var(item, "attr", True))
        expr = self.expr(item)
        if not is_constant(expr):
            raise pos(item).error(f"expected ?var or a constant as a left-side attribute, got {show(item)}")
        return expr

    def expr(self, item: SExpr) -> Expr:
        if isinstance(item, Atom):
            return self._atom(item)
        if item.bracket == "[":
            return Tup(tuple(self.expr(x) for x in item.items))
        head = item.items[0] if item.items else None
        if isinstance(head, Atom) and str(head.value) in NODE_FUNCTIONS:
            return self._node_function(item)
        match self._call(item, FUNCTIONS, "function"):
            case Call(fn="join", args=(Tup(items=a), Tup(items=b))):
                return Tup(a + b)  # known at load time, e.g. with the items of (attr-values ?y)
            case call:
                return call

    def guard(self, item: SExpr) -> Call:
        if not isinstance(item, SList) or item.bracket != "(":
            raise pos(item).error(f"expected a guard (predicate ...), got {show(item)}")
        return self._call(item, PREDICATES, "guard predicate")

    def _atom(self, item: Atom) -> Expr:
        if item.kind != "symbol":
            return Lit(item.value)
        if is_var(item):
            return Var(self.var(item, None, False))
        if item.value in CONSTANTS:
            return Lit(CONSTANTS[item.value])
        if is_param(item):
            value = param_value(item, self.params)
            self.used.add(str(item.value)[1:])
            return Lit(plain(value))
        raise item.pos.error(f"expected a number, a \"string\", none/true/false, ?var or $param, got {item.value}")

    def _node_function(self, item: SList) -> Expr:
        fn = item.items[0].value
        if len(item.items) != 2 or not is_var(item.items[1]) or str(item.items[1].value)[1:] not in self.nodes:
            raise item.pos.error(f"{fn}: expected a left node named with (as ?name ...), got "
                                 f"{show(item.items[1]) if len(item.items) > 1 else 'nothing'}")
        op, attrs = self.nodes[str(item.items[1].value)[1:]]
        if fn == "op-name":
            return Lit(op.value)
        missing = [a for a in OP_ATTRS[op] if a not in attrs]
        if missing:
            raise item.pos.error(f"attr-values: {op.value} leaves {missing} unbound; add ... to the left node")
        return Tup(tuple(attrs[a] for a in OP_ATTRS[op]))

    def _call(self, item: SList, table: dict, what: str) -> Call:
        head = item.items[0] if item.items else None
        if head is None or not isinstance(head, Atom) or head.value not in table:
            raise item.pos.error(f"expected a {what} among {sorted(table)}, got {show(head)}")
        kinds, _ = table[head.value]
        args = item.items[1:]
        variadic = kinds.endswith("*")
        if (len(args) < 1) if variadic else (len(args) != len(kinds)):
            wanted = ("1 or more arguments" if variadic else "1 argument" if len(kinds) == 1
                      else f"{len(kinds)} arguments")
            raise item.pos.error(f"{head.value}: expected {wanted}, got {len(args)}")
        for kind, arg in zip(kinds.rstrip("*") * (len(args) if variadic else 1), args):
            if kind == "t" and not is_var(arg):
                raise pos(arg).error(f"{head.value}: expected a tensor ?var, got {show(arg)}")
            if kind == "t":
                self.var(arg, "tensor", False)
        return Call(str(head.value), tuple(self.expr(a) for a in args))


def is_var(item: SExpr | None) -> TypeGuard[Atom]:
    return isinstance(item, Atom) and item.kind == "symbol" and str(item.value).startswith("?")


def is_constant(expr: Expr) -> bool:
    match expr:
        case Lit():
            return True
        case Tup(items=items):
            return all(is_constant(e) for e in items)
        case _:
            return False


def pos(item: SExpr | None) -> Pos:
    return item.pos if item is not None else Pos("<string>", 0, 0)


def show(item: SExpr | None) -> str:
    if item is None:
        return "nothing"
    if isinstance(item, Atom):
        return repr(item.value) if item.kind == "string" else str(item.value)
    return f"a {item.bracket}...{')' if item.bracket == '(' else ']'} form"
