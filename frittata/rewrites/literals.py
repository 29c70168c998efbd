"""Reading back the Python literals (attributes, types) that egglog prints for PyObjects.

Only literal syntax is accepted: numbers, strings, None/True/False, tuples and lists, and the
names `inf` / `nan` that `repr` prints for special floats. Nothing is evaluated.
"""

from __future__ import annotations

import ast
import math

from frittata.errors import RewriteError

_NAMES = {"None": None, "True": True, "False": False, "inf": math.inf, "nan": math.nan}


def parse_literal(text: str):
    """The Python value written by `repr` as `text` (tuples stay tuples, lists become tuples)."""
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as err:
        raise RewriteError(f"e-graph decoding: expected a Python literal, got {text!r}") from err
    return _value(tree, text)


def _value(node: ast.AST, text: str):
    match node:
        case ast.Constant(value=value):
            return value
        case ast.Name(id=name) if name in _NAMES:
            return _NAMES[name]
        case ast.Tuple(elts=elts) | ast.List(elts=elts):
            return tuple(_value(e, text) for e in elts)
        case ast.UnaryOp(op=ast.USub(), operand=inner):
            return -_value(inner, text)
        case _:
            raise RewriteError(f"e-graph decoding: unexpected {ast.dump(node)} in literal {text!r}")
