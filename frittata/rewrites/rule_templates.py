"""Rule templates: one `(rule ...)` form that stands for several rules, and `$parameters`.

Templates are expanded before a rule is parsed; every instance is an ordinary rule form that
keeps the positions of the text it came from, so errors still point into the file.

* Op-class heads. `(@CLASS operand ...)` on the left stands for every operator of the class
  (`op_classes.op_class`: unary, binary, elementwise); `(@CLASS ...)` on the right builds the
  operator that the left head matched, so the left side must have exactly one head of that
  class. One instance per operator, or per combination if the left has several class heads,
  named `NAME/OP` (`NAME/OP1/OP2`, heads in the order they appear).
* Candidate tables. `:table [$a $b ...] (ROW va vb ...) ...` after a rule's other options: one
  instance per row, named `NAME/ROW`, in which `$a` is `va`, `$b` is `vb`, ... Cells are
  constants; every column must be used by the rule. With class heads too: `NAME/ROW/OP`.
* Parameters. `$NAME` is a constant bound when the rules are loaded: by a table row, else by
  the loader's parameters (a target's configuration), else by the file's `(parameters ...)`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeGuard

from frittata.rewrites.op_classes import class_names, op_class
from frittata.rewrites.sexpr import Atom, Pos, SExpr, SList

NAME = re.compile(r"[a-z][a-z0-9-]*")
"""Rule, row, family and target names."""
_PARAM = re.compile(r"\$[A-Za-z][A-Za-z0-9_]*")
CONSTANTS = {"none": None, "true": True, "false": False}


@dataclass(frozen=True, slots=True)
class Instance:
    """One rule a template stands for: its name, its rule form, its `$` values, its columns."""

    name: str
    form: SList
    params: Mapping[str, object]
    columns: tuple[str, ...] = ()


def is_param(item: SExpr | None) -> TypeGuard[Atom]:
    """Whether `item` is a parameter `$NAME`."""
    return isinstance(item, Atom) and item.kind == "symbol" and str(item.value).startswith("$")


def param_value(item: Atom, params: Mapping[str, object]) -> object:
    """The value bound to the parameter `item`; unbound or malformed raises at its position."""
    text = str(item.value)
    if not _PARAM.fullmatch(text):
        raise item.pos.error(f"expected a parameter like $BLOCK_IN, got {text}")
    name = text[1:]
    if name not in params:
        known = " ".join(f"${p}" for p in sorted(params)) or "none"
        raise item.pos.error(f"unbound parameter {item.value}: expected it from a table row, the loader's "
                             f"parameters or a (parameters ...) form of the file (bound: {known})")
    return params[name]


def constant(item: SExpr, params: Mapping[str, object]) -> object:
    """The value of a constant: a number, a "string", none/true/false, $param or [c ...]."""
    match item:
        case Atom(kind="symbol") if item.value in CONSTANTS:
            return CONSTANTS[item.value]
        case Atom(kind="symbol") if is_param(item):
            return param_value(item, params)
        case Atom(kind="int" | "float" | "string"):
            return item.value
        case SList(bracket="["):
            return tuple(constant(x, params) for x in item.items)
        case _:
            raise item.pos.error(f"expected a constant (number, \"string\", none/true/false, $param or "
                                 f"[...]), got {item.value if isinstance(item, Atom) else 'a (...) form'}")


def instances(form: SList, name: str, params: Mapping[str, object]) -> list[Instance]:
    """The rules a `(rule NAME ...)` form stands for (itself, named NAME, if no template)."""
    body, columns, rows = _split_table(form, params)
    out = []
    for row, values in rows:
        for ops, expanded in _class_instances(body):
            full = "/".join([name, *([row] if row else []), *ops])
            renamed = SList((expanded.items[0], Atom(full, "symbol", expanded.items[1].pos), *expanded.items[2:]),
                            expanded.bracket, expanded.pos)
            out.append(Instance(full, renamed, {**params, **values}, columns))
    return out


def _split_table(form: SList, params: Mapping[str, object]) -> tuple[SList, tuple[str, ...], list]:
    """The form without its `:table ...` option, the column names, and (row name, values)."""
    items = form.items
    start = next((i for i in range(5, len(items)) if _is_key(items[i], ":table")), None)
    if start is None:
        return form, (), [("", {})]
    end = next((i for i in range(start + 1, len(items)) if _is_option(items[i])), len(items))
    columns = _columns(items[start], items[start + 1] if start + 1 < end else None, params)
    rows = [_row(row, columns, params) for row in items[start + 2:end]]
    if not rows:
        raise items[start].pos.error("expected :table [$column ...] followed by (ROW value ...) rows, got no rows")
    names = [r for r, _ in rows]
    if len(set(names)) != len(names):
        raise items[start].pos.error(f"expected unique row names, got {names}")
    return SList(items[:start] + items[end:], form.bracket, form.pos), columns, rows


def _columns(key: Atom, header: SExpr | None, params: Mapping[str, object]) -> tuple[str, ...]:
    if not (isinstance(header, SList) and header.bracket == "[" and header.items and all(map(is_param, header.items))):
        raise key.pos.error("expected :table [$column ...] with at least one $column")
    columns = tuple(str(item.value)[1:] for item in header.items)
    for item, column in zip(header.items, columns):
        if column in params or columns.count(column) > 1:
            raise item.pos.error(f"table column {item.value} is already bound (a parameter or another column)")
    return columns


def _row(row: SExpr, columns: tuple[str, ...], params: Mapping[str, object]) -> tuple[str, dict]:
    name = row.items[0] if isinstance(row, SList) and row.bracket == "(" and row.items else None
    if not (isinstance(name, Atom) and NAME.fullmatch(str(name.value))):
        raise row.pos.error("expected a table row (ROW-NAME value ...) with a lower-case name")
    cells = row.items[1:] if isinstance(row, SList) else ()
    if len(cells) != len(columns):
        raise row.pos.error(f"row {name.value}: expected {len(columns)} values (one per column), got {len(cells)}")
    return str(name.value), {c: constant(v, params) for c, v in zip(columns, cells)}


def _class_instances(form: SList) -> list[tuple[list[str], SList]]:
    """(operator names, form) per combination of the operators of the left's class heads."""
    if len(form.items) < 5:
        return [([], form)]
    left, right = _heads(form.items[2]), _heads(form.items[4])
    if not left and not right:
        return [([], form)]
    classes = [_ops(head) for head in left]
    for head in right:
        same = [h for h in left if h.value == head.value]
        if len(same) != 1:
            raise head.pos.error(f"expected exactly one {head.value} head on the left for the right side to "
                                 f"build, got {len(same)}")
    out = []
    for ops in itertools.product(*classes):
        by_class = {h.value: op for h, op in zip(left, ops)}
        chosen = {h.pos: op for h, op in zip(left, ops)} | {h.pos: by_class[h.value] for h in right}
        items = list(form.items)
        items[2], items[4] = _substitute(items[2], chosen), _substitute(items[4], chosen)
        out.append((list(ops), SList(tuple(items), form.bracket, form.pos)))
    return out


def _heads(item: SExpr) -> list[Atom]:
    """The class heads `@CLASS` of a pattern, in pre-order."""
    if not isinstance(item, SList):
        return []
    own = [item.items[0]] if item.bracket == "(" and item.items and _is_head(item.items[0]) else []
    return own + [h for x in item.items for h in _heads(x)]


def _ops(head: Atom) -> tuple[str, ...]:
    ops = op_class(str(head.value)[1:])
    if ops is None:
        raise head.pos.error(f"expected an op class among {['@' + n for n in class_names()]}, got {head.value}")
    return tuple(op.value for op in ops)


def _substitute(item: SExpr, chosen: dict[Pos, str]) -> SExpr:
    """`item` with each class head replaced by the operator chosen for its position."""
    if not isinstance(item, SList):
        return item
    items = tuple(_substitute(x, chosen) for x in item.items)
    if item.bracket == "(" and items and _is_head(items[0]):
        items = (Atom(chosen[items[0].pos], "symbol", items[0].pos),) + items[1:]
    return SList(items, item.bracket, item.pos)


def _is_head(item: SExpr) -> TypeGuard[Atom]:
    return isinstance(item, Atom) and item.kind == "symbol" and str(item.value).startswith("@")


def _is_key(item: SExpr, key: str) -> TypeGuard[Atom]:
    return isinstance(item, Atom) and item.kind == "symbol" and item.value == key


def _is_option(item: SExpr) -> bool:
    return isinstance(item, Atom) and item.kind == "symbol" and str(item.value).startswith(":")
