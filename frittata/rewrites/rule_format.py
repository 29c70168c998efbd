"""Rules as data: the rule-file format, its parser, and the `Rule` values it produces.

A rule file is a sequence of s-expressions (`;` starts a comment):

    (family fusion)                         ; family of the rules below (default: file stem)
    (rule fuse-dense-bias                   ; stable name: fold-*, fuse-*, cancel-*, layout-*, ...
      (add (dense ?x ?w) ?b)                ; left pattern
      =>                                    ; one-way; `<=>` adds the reverse rule `NAME~rev`
      (fused_dense ?x ?w ?b :epilogue [])   ; right pattern
      :if (shape-is ?b [(dim ?w 0)])        ; optional guards (all must hold)
      :target any)                          ; optional target tag (default any)

Patterns: `?x` is a tensor variable; `(OP operand ... :attr VALUE ...)` matches or builds an
operator (OP is an `Op` value). On the left an attribute VALUE is a `?var` (bound on first use,
compared on later uses) or a constant; attributes not mentioned match anything. On the right
every attribute must be given, as an expression (see `frittata.rewrites.exprs`). `(as ?y PAT)`
on the left names a sub-term. Constants: integers, floats, "strings", none, true, false and
tuples `[a b ...]`. An operand `?xs...` is a sequence variable: any number of operands, bound
on the left and spliced on the right (see `frittata.rewrites.sequences` for its meaning and how
it is matched). Errors raise RewriteError with FILE:LINE:COL and the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TypeGuard

from frittata.rewrites.exprs import FUNCTIONS, PREDICATES, Call, Expr, Lit, Tup, Var
from frittata.rewrites.sexpr import Atom, Pos, SExpr, SList, read
from frittata.rewrites.signature import OP_ATTRS, arity_fits, arity_text
from frittata.terms.ops import BY_NAME, Op

_NAME = re.compile(r"[a-z][a-z0-9-]*")
_SEQ = "..."
_CONSTANTS = {"none": None, "true": True, "false": False}


@dataclass(frozen=True, slots=True)
class PVar:
    """A tensor variable `?name` in a pattern."""

    name: str


@dataclass(frozen=True, slots=True)
class PSeq:
    """A sequence variable `?name...` among an operator's operands: any number of operands."""

    name: str


@dataclass(frozen=True, slots=True)
class PNode:
    """An operator pattern; `bind` names the matched sub-term (`(as ?y ...)`).

    `args` holds patterns and `PSeq`s (a sequence variable is only ever an operand).
    """

    op: Op
    args: tuple
    attrs: tuple[tuple[str, Expr], ...]
    bind: str | None = None


Pattern = PVar | PNode


@dataclass(frozen=True, slots=True)
class Rule:
    """One rewrite: `lhs` => `rhs` when every guard holds. `where` is FILE:LINE:COL."""

    name: str
    family: str
    lhs: PNode
    rhs: Pattern
    guards: tuple[Call, ...]
    bidirectional: bool
    where: str
    target: str = "any"

    def directions(self) -> list[Rule]:
        """The one-way rules this rule stands for (itself, and its reverse if `<=>`)."""
        if not self.bidirectional:
            return [self]
        assert isinstance(self.rhs, PNode), "parsing checked that a <=> rule's right side is an operator"
        back = replace(self, name=f"{self.name}~rev", lhs=self.rhs, rhs=self.lhs, bidirectional=False)
        return [replace(self, bidirectional=False), back]


def parse_rules(text: str, file: str = "<string>", family: str | None = None) -> list[Rule]:
    """Parse rule text; `family` is the default family (else the text must declare one)."""
    rules: list[Rule] = []
    for form in read(text, file):
        head = _head(form)
        match head:
            case "family" if isinstance(form, SList):
                family = _family_form(form)
            case "rule" if isinstance(form, SList):
                rule = _RuleParser(form, family).parse()
                if any(r.name == rule.name for r in rules):
                    raise form.pos.error(f"expected a unique rule name, got {rule.name!r} twice")
                rules.append(rule)
            case _:
                raise form.pos.error(f"expected (rule ...) or (family ...), got {head!r}")
    return rules


def _head(form: SExpr) -> str:
    if isinstance(form, SList) and form.bracket == "(" and form.items and _is_symbol(form.items[0]):
        return form.items[0].value
    return repr(getattr(form, "value", "[...]"))


def _is_symbol(item: SExpr | None) -> TypeGuard[Atom]:
    return isinstance(item, Atom) and item.kind == "symbol"


def _family_form(form: SList) -> str:
    if len(form.items) != 2 or not _is_symbol(form.items[1]) or not _NAME.fullmatch(form.items[1].value):
        raise form.pos.error("expected (family NAME) with a lower-case name")
    return form.items[1].value


class _RuleParser:
    """Parses one `(rule ...)` form, checking names, operators, attributes and variables."""

    def __init__(self, form: SList, family: str | None) -> None:
        self.form, self.family, self.target = form, family, "any"
        self.kinds: dict[str, str | None] = {}

    def parse(self) -> Rule:
        items = self.form.items
        if len(items) < 5:
            raise self.form.pos.error("expected (rule NAME LHS => RHS [:if GUARD ...] [:family F] [:target T])")
        name = self._name(items[1])
        arrow = items[3]
        if not _is_symbol(arrow) or arrow.value not in ("=>", "<=>"):
            raise _pos(arrow).error(f"expected => or <=>, got {_show(arrow)}")
        lhs = self._pattern(items[2], left=True)
        if not isinstance(lhs, PNode):
            raise _pos(items[2]).error("expected an operator pattern on the left, got a bare variable")
        rhs = self._pattern(items[4], left=False)
        guards = self._options(items[5:])
        if self.family is None:
            raise self.form.pos.error(f"rule {name}: expected a family (:family F or (family F) above)")
        rule = Rule(name, self.family, lhs, rhs, guards, arrow.value == "<=>",
                    f"{self.form.pos.file}:{self.form.pos.line}:{self.form.pos.col}", self.target)
        if rule.bidirectional:
            _check_reversible(rule, self.form.pos)
        return rule

    def _name(self, item: SExpr) -> str:
        if not _is_symbol(item) or not _NAME.fullmatch(item.value):
            raise _pos(item).error(f"expected a rule name like fuse-conv2d-bias, got {_show(item)}")
        return item.value

    def _options(self, items: tuple) -> tuple[Call, ...]:
        guards: list[Call] = []
        i = 0
        while i < len(items):
            key = items[i]
            if not _is_symbol(key) or key.value not in (":if", ":family", ":target"):
                raise _pos(key).error(f"expected :if, :family or :target, got {_show(key)}")
            i += 1
            if key.value == ":if":
                while i < len(items) and not (_is_symbol(items[i]) and items[i].value.startswith(":")):
                    guards.append(self._guard(items[i]))
                    i += 1
                continue
            if i >= len(items) or not _is_symbol(items[i]):
                raise key.pos.error(f"expected a name after {key.value}")
            if key.value == ":family":
                self.family = self._name(items[i])
            else:
                self.target = self._name(items[i])
            i += 1
        return tuple(guards)

    def _pattern(self, item: SExpr, left: bool) -> Pattern:
        if isinstance(item, Atom) and item.kind == "symbol" and item.value.startswith("?"):
            return PVar(self._var(item, "tensor", left))
        if not isinstance(item, SList) or item.bracket != "(" or not item.items or not _is_symbol(item.items[0]):
            raise _pos(item).error(f"expected a pattern (?var or (op ...)), got {_show(item)}")
        if item.items[0].value == "as":
            return self._as(item, left)
        return self._node(item, left)

    def _as(self, item: SList, left: bool) -> PNode:
        if not left or len(item.items) != 3:
            raise item.pos.error("expected (as ?name PATTERN), only on the left side")
        inner = self._pattern(item.items[2], left)
        var = item.items[1]
        if not isinstance(inner, PNode) or not (_is_symbol(var) and var.value.startswith("?")):
            raise item.pos.error("expected (as ?name (op ...))")
        return replace(inner, bind=self._var(var, "tensor", left))

    def _node(self, item: SList, left: bool) -> PNode:
        op_name = item.items[0].value
        op = BY_NAME.get(op_name)
        if op is None or op in (Op.INPUT, Op.PARAM):
            raise item.items[0].pos.error(f"expected an operator name (an Op value, not input/param), got {op_name!r}")
        rest = list(item.items[1:])
        split = next((i for i, x in enumerate(rest) if _is_symbol(x) and x.value.startswith(":")), len(rest))
        args = tuple(self._operand(x, left) for x in rest[:split])
        fixed = sum(not isinstance(a, PSeq) for a in args)
        if not arity_fits(op, fixed, more=fixed < len(args)):
            raise item.pos.error(f"{op_name}: expected {arity_text(op)} operands, got {_count(args)}")
        attrs = self._attrs(op, rest[split:], item.pos, left)
        return PNode(op, args, attrs)

    def _operand(self, item: SExpr, left: bool) -> Pattern | PSeq:
        if _is_symbol(item) and item.value.startswith("?") and item.value.endswith(_SEQ) and len(item.value) > 4:
            return PSeq(self._var(Atom(item.value[:-len(_SEQ)], "symbol", item.pos), "sequence", left))
        return self._pattern(item, left)

    def _attrs(self, op: Op, items: list, pos: Pos, left: bool) -> tuple[tuple[str, Expr], ...]:
        if len(items) % 2:
            raise pos.error(f"{op.value}: expected :attribute VALUE pairs, got an odd count")
        attrs: dict[str, Expr] = {}
        for key, value in zip(items[::2], items[1::2]):
            name = key.value[1:] if _is_symbol(key) and key.value.startswith(":") else None
            if name not in OP_ATTRS[op] or name in attrs:
                raise _pos(key).error(f"{op.value}: expected a new attribute among {OP_ATTRS[op]}, got {_show(key)}")
            attrs[name] = self._lhs_attr(value) if left else self._expr(value)
        missing = [a for a in OP_ATTRS[op] if a not in attrs]
        if not left and missing:
            raise pos.error(f"{op.value} on the right: expected every attribute, missing {missing}")
        return tuple(attrs.items())

    def _lhs_attr(self, item: SExpr) -> Expr:
        if _is_symbol(item) and item.value.startswith("?"):
            return Var(self._var(item, "attr", True))
        expr = self._expr(item)
        if not _constant(expr):
            raise _pos(item).error(f"expected ?var or a constant as a left-side attribute, got {_show(item)}")
        return expr

    def _expr(self, item: SExpr) -> Expr:
        if isinstance(item, Atom):
            return self._atom_expr(item)
        if item.bracket == "[":
            return Tup(tuple(self._expr(x) for x in item.items))
        return self._call(item, FUNCTIONS, "function")

    def _atom_expr(self, item: Atom) -> Expr:
        if item.kind != "symbol":
            return Lit(item.value)
        if item.value.startswith("?"):
            return Var(self._var(item, None, False))
        if item.value in _CONSTANTS:
            return Lit(_CONSTANTS[item.value])
        raise item.pos.error(f"expected a number, a \"string\", none/true/false or ?var, got {item.value}")

    def _guard(self, item: SExpr) -> Call:
        if not isinstance(item, SList) or item.bracket != "(":
            raise _pos(item).error(f"expected a guard (predicate ...), got {_show(item)}")
        return self._call(item, PREDICATES, "guard predicate")

    def _call(self, item: SList, table: dict, what: str) -> Call:
        head = item.items[0] if item.items else None
        if head is None or not _is_symbol(head) or head.value not in table:
            raise item.pos.error(f"expected a {what} among {sorted(table)}, got {_show(head)}")
        kinds, _ = table[head.value]
        args = item.items[1:]
        variadic = kinds.endswith("*")
        if (len(args) < 1) if variadic else (len(args) != len(kinds)):
            expected = "1 or more" if variadic else len(kinds)
            raise item.pos.error(f"{head.value}: expected {expected} arguments, got {len(args)}")
        for kind, arg in zip(kinds.rstrip("*") * (len(args) if variadic else 1), args):
            if kind == "t" and not (_is_symbol(arg) and arg.value.startswith("?")):
                raise _pos(arg).error(f"{head.value}: expected a tensor ?var, got {_show(arg)}")
            if kind == "t":
                self._var(arg, "tensor", False)
        return Call(head.value, tuple(self._expr(a) for a in args))

    def _var(self, item: Atom, kind: str | None, left: bool) -> str:
        name = item.value[1:]
        if not _NAME.fullmatch(name.replace("_", "-")):
            raise item.pos.error(f"expected a variable like ?x, got {item.value}")
        known = self.kinds.get(name)
        if known is None and not left:
            raise item.pos.error(f"variable ?{name} is not bound by the left side")
        if known is None:
            self.kinds[name] = kind
        elif kind is not None and known != kind:
            raise item.pos.error(f"?{name} is used as a {kind} but was bound as a {known}")
        return name


def _constant(expr: Expr) -> bool:
    match expr:
        case Lit():
            return True
        case Tup(items=items):
            return all(_constant(e) for e in items)
        case _:
            return False


def _count(args: tuple) -> str:
    fixed = sum(not isinstance(a, PSeq) for a in args)
    return str(fixed) if fixed == len(args) else f"{fixed} plus sequences"


def _check_reversible(rule: Rule, pos: Pos) -> None:
    def vars_of(p: Pattern | PSeq) -> set[str]:
        if isinstance(p, (PVar, PSeq)):
            return {p.name}
        inner = {v.name for _, v in p.attrs if isinstance(v, Var)}
        return inner.union(*(vars_of(a) for a in p.args))

    def simple(p: Pattern | PSeq) -> bool:
        if isinstance(p, (PVar, PSeq)):
            return True
        plain = all(isinstance(v, Var) or _constant(v) for _, v in p.attrs)
        complete = len(p.attrs) == len(OP_ATTRS[p.op])
        return p.bind is None and plain and complete and all(simple(a) for a in p.args)

    if not isinstance(rule.rhs, PNode) or not simple(rule.lhs) or not simple(rule.rhs) \
            or vars_of(rule.lhs) != vars_of(rule.rhs):
        raise pos.error(f"rule {rule.name}: <=> needs two operator patterns with the same variables, "
                        "every attribute given as a ?var or a constant, and no (as ...)")


def _pos(item: SExpr | None) -> Pos:
    return item.pos if item is not None else Pos("<string>", 0, 0)


def _show(item: SExpr | None) -> str:
    if item is None:
        return "nothing"
    if isinstance(item, Atom):
        return repr(item.value) if item.kind == "string" else str(item.value)
    return f"a {item.bracket}...{')' if item.bracket == '(' else ']'} form"
