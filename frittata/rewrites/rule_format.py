"""Rules as data: the rule-file format, its parser, and the `Rule` values it produces.

A rule file is a sequence of s-expressions (`;` starts a comment):

    (family fusion)                         ; family of the rules below (default: file stem)
    (parameters $BLOCK 16)                  ; defaults of $parameters (the loader's win)
    (rule fuse-dense-bias                   ; stable name: fold-*, fuse-*, cancel-*, layout-*, ...
      (add (dense ?x ?w) ?b)                ; left pattern
      =>                                    ; one-way; `<=>` adds the reverse rule `NAME~rev`
      (fused_dense ?x ?w ?b :epilogue [])   ; right pattern
      :if (shape-is ?b [(dim ?w 0)])        ; optional guards (all must hold)
      :target any)                          ; optional target tag (default any)

Patterns: `?x` is a tensor variable; `(OP operand ... :attr VALUE ...)` matches or builds an
operator (OP is an `Op` value, or `@CLASS` for every operator of a class: see
`rule_templates`). On the left an attribute VALUE is a `?var` (bound on first use, compared on
later uses) or a constant; attributes not mentioned match anything. On the right every
attribute must be given, as an expression (`rule_exprs`), or carried. `(as ?y PAT)` on the left
names a sub-term. Constants: integers, floats, "strings", none, true, false, tuples `[a b ...]`
and `$parameters`. An operand `?xs...` is a sequence variable: any number of operands, bound
on the left and spliced on the right (see `frittata.rewrites.sequences` for its meaning and how
it is matched).

Carrying attributes: `...` among a left node's attributes binds the ones it does not mention;
`...` in a right node gives every attribute it does not mention the value it has in its
*source*, a left node with `...`: the one named by `...?y` (`(as ?y ...)`), else the only left
`...` node with the right node's operator, else (none with that operator) the only left `...`
node. Anything else is ambiguous and an error. Errors raise RewriteError with FILE:LINE:COL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TypeGuard

from frittata.rewrites.exprs import Call, Expr, Var
from frittata.rewrites.rule_exprs import ExprParser, is_constant, is_var, pos, show
from frittata.rewrites.rule_templates import NAME, constant, instances, is_param
from frittata.rewrites.sexpr import Atom, Pos, SExpr, SList, read, symbol
from frittata.rewrites.signature import OP_ATTRS, arity_fits
from frittata.terms.ops import BY_NAME, Op

CARRY = "..."
"""`...` carries attributes; a symbol `?xs...` is a sequence variable."""


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
    """One rewrite: `lhs` => `rhs` when every guard holds. `where` is FILE:LINE:COL.

    `source` names the rule as written in its file; an instance of a template (table row,
    op class, sequence length) has its own `name` and its template's `source`.
    """

    name: str
    family: str
    lhs: PNode
    rhs: Pattern
    guards: tuple[Call, ...]
    bidirectional: bool
    where: str
    target: str = "any"
    source: str = ""

    def directions(self) -> list[Rule]:
        """The one-way rules this rule stands for (itself, and its reverse if `<=>`)."""
        if not self.bidirectional:
            return [self]
        assert isinstance(self.rhs, PNode), "a <=> rule has an operator on both sides (checked when parsed)"
        back = replace(self, name=f"{self.name}~rev", lhs=self.rhs, rhs=self.lhs, bidirectional=False)
        return [replace(self, bidirectional=False), back]


def parse_rules(text: str, file: str = "<string>", family: str | None = None,
                params: Mapping[str, object] | None = None) -> list[Rule]:
    """Parse rule text; `family` is the default family (else the text must declare one).

    `params` binds `$parameters` (a target's configuration); they override the defaults of
    the text's `(parameters ...)` forms. An unbound parameter raises RewriteError.
    """
    forms = read(text, file)
    bound = {**_defaults(forms), **(params or {})}
    rules: list[Rule] = []
    for form in forms:
        if not isinstance(form, SList):
            raise form.pos.error(f"expected (rule ...), (family ...) or (parameters ...), got {show(form)}")
        head = _head(form)
        match head:
            case "family":
                family = _family_form(form)
            case "parameters":
                continue  # its defaults were read into `bound` before the loop
            case "rule":
                for rule in _rule_form(form, family, bound):
                    if any(r.name == rule.name for r in rules):
                        raise form.pos.error(f"expected a unique rule name, got {rule.name!r} twice")
                    rules.append(rule)
            case _:
                raise form.pos.error(f"expected (rule ...), (family ...) or (parameters ...), got {head!r}")
    return rules


def _rule_form(form: SList, family: str | None, params: Mapping[str, object]) -> list[Rule]:
    """Every rule a `(rule ...)` form stands for: its template instances."""
    name = form.items[1] if len(form.items) > 1 else None
    if not _is_symbol(name) or not NAME.fullmatch(str(name.value)):
        raise (name or form).pos.error(f"expected a rule name like fuse-conv2d-bias, got {show(name)}")
    source = str(name.value)
    rules = []
    for instance in instances(form, source, params):
        parser = _RuleParser(instance.form, family, instance.params, source)
        rules.append(parser.parse())
        unused = [f"${c}" for c in instance.columns if c not in parser.exprs.used]
        if unused:
            raise form.pos.error(f"rule {source}: table columns {unused} are not used by the rule")
    return rules


def _defaults(forms: list[SExpr]) -> dict[str, object]:
    """`$name` values of the `(parameters $name value ...)` forms."""
    out: dict[str, object] = {}
    for form in forms:
        if not isinstance(form, SList) or _head(form) != "parameters":
            continue
        items = form.items[1:]
        if not items or len(items) % 2:
            raise form.pos.error("expected (parameters $NAME value ...) with one value per name")
        for name, value in zip(items[::2], items[1::2]):
            if not is_param(name) or str(name.value)[1:] in out:
                raise pos(name).error(f"expected a new parameter name like $BLOCK_IN, got {show(name)}")
            out[str(name.value)[1:]] = constant(value, {})
    return out


def _head(form: SList) -> str:
    if form.bracket == "(" and form.items and _is_symbol(form.items[0]):
        return str(form.items[0].value)
    return show(form)


def _is_symbol(item: SExpr | None) -> TypeGuard[Atom]:
    return isinstance(item, Atom) and item.kind == "symbol"


def _is_carry(item: SExpr) -> bool:
    return _is_symbol(item) and str(item.value).startswith(CARRY)


def _family_form(form: SList) -> str:
    if len(form.items) != 2 or not NAME.fullmatch(symbol(form.items[1])):
        raise form.pos.error("expected (family NAME) with a lower-case name")
    return symbol(form.items[1])


@dataclass
class _Carrier:
    """A left node with `...`: what a right `...` copies from."""

    op: Op
    attrs: dict[str, Expr]
    pos: Pos
    bind: str | None


class _RuleParser:
    """Parses one `(rule ...)` form, checking names, operators, attributes and variables."""

    def __init__(self, form: SList, family: str | None, params: Mapping[str, object], source: str) -> None:
        self.form, self.family, self.target, self.source = form, family, "any", source
        self.kinds: dict[str, str | None] = {}
        self.uses: dict[str, int] = {}
        self.carriers: list[_Carrier] = []
        self.named: dict[str, tuple[Op, dict[str, Expr]]] = {}
        self.exprs = ExprParser(self._var, params, self.named)

    def parse(self) -> Rule:
        items = self.form.items
        if len(items) < 5:
            raise self.form.pos.error("expected (rule NAME LHS => RHS [:if GUARD ...] [:family F] [:target T])")
        name = items[1].value
        arrow = items[3]
        if not _is_symbol(arrow) or arrow.value not in ("=>", "<=>"):
            raise pos(arrow).error(f"expected => or <=>, got {show(arrow)}")
        lhs = self._pattern(items[2], left=True)
        if not isinstance(lhs, PNode):
            raise pos(items[2]).error("expected an operator pattern on the left, got a bare variable")
        rhs = self._pattern(items[4], left=False)
        guards = self._options(items[5:])
        if self.family is None:
            raise self.form.pos.error(f"rule {name}: expected a family (:family F or (family F) above)")
        rule = Rule(name, self.family, self._unbind(lhs), rhs, guards, arrow.value == "<=>",
                    f"{self.form.pos.file}:{self.form.pos.line}:{self.form.pos.col}", self.target, self.source)
        if rule.bidirectional:
            _check_reversible(rule, self.form.pos)
        return rule

    def _unbind(self, pattern: PNode) -> PNode:
        """The left pattern without names used only by `(op-name ?y)` / `(attr-values ?y)`."""
        args = tuple(self._unbind(a) if isinstance(a, PNode) else a for a in pattern.args)
        bind = pattern.bind if pattern.bind is None or self.uses[pattern.bind] > 1 else None
        return replace(pattern, args=args, bind=bind)

    def _name(self, item: SExpr) -> str:
        if not _is_symbol(item) or not NAME.fullmatch(str(item.value)):
            raise pos(item).error(f"expected a lower-case name like llvm or fusion, got {show(item)}")
        return str(item.value)

    def _options(self, items: tuple) -> tuple[Call, ...]:
        guards: list[Call] = []
        i = 0
        while i < len(items):
            key = items[i]
            if not _is_symbol(key) or key.value not in (":if", ":family", ":target"):
                raise pos(key).error(f"expected :if, :family, :target or :table, got {show(key)}")
            i += 1
            if key.value == ":if":
                while i < len(items) and not (_is_symbol(items[i]) and items[i].value.startswith(":")):
                    guards.append(self.exprs.guard(items[i]))
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
        if is_var(item):
            return PVar(self._var(item, "tensor", left))
        if not isinstance(item, SList) or item.bracket != "(" or not item.items or not _is_symbol(item.items[0]):
            raise pos(item).error(f"expected a pattern (?var or (op ...)), got {show(item)}")
        if item.items[0].value == "as":
            return self._as(item, left)
        return self._node(item, left, None)

    def _as(self, item: SList, left: bool) -> PNode:
        if not left or len(item.items) != 3 or not is_var(item.items[1]):
            raise item.pos.error("expected (as ?name PATTERN), only on the left side")
        inner = item.items[2]
        if not isinstance(inner, SList) or not inner.items or _head(inner) == "as":
            raise item.pos.error("expected (as ?name (op ...))")
        return self._node(inner, left, self._var(item.items[1], "tensor", left))

    def _node(self, item: SList, left: bool, bind: str | None) -> PNode:
        op_name = item.items[0].value
        op = BY_NAME.get(op_name)
        if op is None or op in (Op.INPUT, Op.PARAM):
            raise item.items[0].pos.error(f"expected an operator name (an Op value, not input/param), got {op_name!r}")
        rest = list(item.items[1:])
        split = next((i for i, x in enumerate(rest) if symbol(x).startswith((":", CARRY))), len(rest))
        args = tuple(self._operand(x, left) for x in rest[:split])
        fixed = sum(not isinstance(a, PSeq) for a in args)
        if not arity_fits(op, fixed, more=fixed < len(args)):
            raise item.pos.error(f"{op_name}: expected {op.arity}, got {_count(args)}")
        carry = [x for x in rest[split:] if _is_carry(x)]
        if len(carry) > 1:
            raise carry[1].pos.error(f"{op_name}: expected at most one ..., got {len(carry)}")
        attrs = self._attrs(op, [x for x in rest[split:] if not _is_carry(x)], item.pos, left)
        if carry:
            attrs = self._carry_left(op, attrs, carry[0], bind) if left else self._carry_right(op, attrs, carry[0])
        missing = [a for a in OP_ATTRS[op] if a not in attrs]
        if not left and missing:
            raise item.pos.error(f"{op.value} on the right: expected every attribute, missing {missing} "
                                 "(give them, or carry them with ...)")
        if left and bind:
            self.named[bind] = (op, attrs)
        return PNode(op, args, tuple((a, attrs[a]) for a in OP_ATTRS[op] if a in attrs), bind)

    def _operand(self, item: SExpr, left: bool) -> Pattern | PSeq:
        text = symbol(item)
        if text.startswith("?") and text.endswith(CARRY) and len(text) > 4:
            return PSeq(self._var(Atom(text[:-len(CARRY)], "symbol", item.pos), "sequence", left))
        return self._pattern(item, left)

    def _attrs(self, op: Op, items: list, at: Pos, left: bool) -> dict[str, Expr]:
        if len(items) % 2:
            raise at.error(f"{op.value}: expected :attribute VALUE pairs, got an odd count")
        attrs: dict[str, Expr] = {}
        for key, value in zip(items[::2], items[1::2]):
            name = symbol(key)[1:] if symbol(key).startswith(":") else None
            if name not in OP_ATTRS[op] or name in attrs:
                raise pos(key).error(f"{op.value}: expected a new attribute among {OP_ATTRS[op]}, got {show(key)}")
            attrs[name] = self.exprs.lhs_attr(value) if left else self.exprs.expr(value)
        return attrs

    def _carry_left(self, op: Op, attrs: dict[str, Expr], token: Atom, bind: str | None) -> dict[str, Expr]:
        """Bind every attribute the node does not mention to a hidden variable."""
        if token.value != CARRY:
            raise token.pos.error(f"expected ... on the left (name the node with (as ?y ...)), got {token.value}")
        k = len(self.carriers)
        for name in OP_ATTRS[op]:
            if name not in attrs:
                hidden = Var(f".{k}.{name}")
                attrs[name], self.kinds[hidden.name] = hidden, "attr"
        self.carriers.append(_Carrier(op, attrs, token.pos, bind))
        return attrs

    def _carry_right(self, op: Op, attrs: dict[str, Expr], token: Atom) -> dict[str, Expr]:
        """Attributes not given take their value in the source node (see the module docstring)."""
        source = self._source(op, token)
        for name in OP_ATTRS[op]:
            if name in attrs:
                continue
            if name not in source.attrs:
                raise token.pos.error(f"{op.value}: attribute {name} is neither given nor carried by ... "
                                      f"(its source, {source.op.value} at {source.pos.line}:{source.pos.col}, "
                                      "has no such attribute)")
            attrs[name] = source.attrs[name]
        return attrs

    def _source(self, op: Op, token: Atom) -> _Carrier:
        if token.value != CARRY:
            named = [c for c in self.carriers if c.bind is not None and f"{CARRY}?{c.bind}" == token.value]
            if not named:
                raise token.pos.error(f"expected ...?name with (as ?name (op ... ...)) on the left, got {token.value}")
            return named[0]
        same = [c for c in self.carriers if c.op == op]
        candidates = same or self.carriers
        if len(candidates) != 1:
            where = ", ".join(f"{c.op.value} at {c.pos.line}:{c.pos.col}" for c in candidates) or "none"
            raise token.pos.error(f"{op.value}: ... must have one source, a left node with ..., got "
                                  f"{len(candidates)} ({where}); name one with (as ?y ...) and write ...?y")
        return candidates[0]

    def _var(self, item: Atom, kind: str | None, left: bool) -> str:
        name = str(item.value)[1:]
        if not NAME.fullmatch(name.replace("_", "-")):
            raise item.pos.error(f"expected a variable like ?x, got {item.value}")
        known = self.kinds.get(name)
        self.uses[name] = self.uses.get(name, 0) + 1
        if known is None and not left:
            raise item.pos.error(f"variable ?{name} is not bound by the left side")
        if known is None:
            self.kinds[name] = kind
        elif kind is not None and known != kind:
            raise item.pos.error(f"?{name} is used as a {kind} but was bound as a {known}")
        return name


def _count(args: tuple) -> str:
    fixed = sum(not isinstance(a, PSeq) for a in args)
    return str(fixed) if fixed == len(args) else f"{fixed} plus sequences"


def _check_reversible(rule: Rule, at: Pos) -> None:
    def vars_of(p: Pattern | PSeq) -> set[str]:
        if isinstance(p, (PVar, PSeq)):
            return {p.name}
        inner = {v.name for _, v in p.attrs if isinstance(v, Var)}
        return inner.union(*(vars_of(a) for a in p.args))

    def simple(p: Pattern | PSeq) -> bool:
        if isinstance(p, (PVar, PSeq)):
            return True
        plain = all(isinstance(v, Var) or is_constant(v) for _, v in p.attrs)
        complete = len(p.attrs) == len(OP_ATTRS[p.op])
        return p.bind is None and plain and complete and all(simple(a) for a in p.args)

    if not isinstance(rule.rhs, PNode) or not simple(rule.lhs) or not simple(rule.rhs) \
            or vars_of(rule.lhs) != vars_of(rule.rhs):
        raise at.error(f"rule {rule.name}: <=> needs two operator patterns with the same variables, "
                       "every attribute given as a ?var or a constant, and no (as ...)")
