"""`repr` of terms as Python that rebuilds them (in the namespace of `frittata.terms`).

Shared sub-terms are printed once, at their first textual occurrence, as an assignment
expression (`(_t0 := relu(...))`) and by name afterwards, so a DAG prints in linear size.
Terms nested deeper than Python's parser allows print flat instead, as a tuple of one binding per
node whose last item is the term: `(_t0 := relu(x), _t1 := add(_t0, x), _t1)[-1]`.
Rendering is iterative, so deep networks print without recursion limits.
"""

from __future__ import annotations

from collections import Counter

from typing import TYPE_CHECKING

import numpy as np

from frittata.terms.ops import Op
from frittata.terms.walk import postorder

if TYPE_CHECKING:
    from frittata.terms.term import Term


MAX_NESTING = 60


def array_repr(data: np.ndarray) -> str:
    """Python that rebuilds `data`: the values when small, zeros of its shape when large."""
    if data.size <= 64:
        return f"np.array({data.tolist()!r}, dtype={data.dtype.name!r})"
    return f"np.zeros({data.shape!r}, dtype={data.dtype.name!r})"


def term_repr(root: Term) -> str:
    order = postorder([root])
    depth: dict[int, int] = {}
    for node in order:
        depth[id(node)] = 1 + max((depth[id(a)] for a in node.args), default=0)
    return _nested(root) if depth[id(root)] <= MAX_NESTING else _flat(order)


def _flat(order: list[Term]) -> str:
    names: dict[int, str] = {}
    items = []
    for node in order:
        if node.args:
            args = [names.get(id(a)) or _leaf_text(a) for a in node.args]
            names[id(node)] = f"_t{len(names)}"
            items.append(f"{names[id(node)]} := {_call_text(node, args)}")
    return f"({', '.join(items)})[-1]"


def _call_text(node: Term, args: list[str]) -> str:
    kwargs = [f"{k}={v!r}" for k, v in node.attrs]
    return f"{node.op.value}({', '.join(args + kwargs)})"


def _nested(root: Term) -> str:
    uses = Counter(id(a) for t in postorder([root]) for a in t.args)
    names: dict[int, str] = {}
    out: list[str] = []
    work: list[Term | str] = [root]
    while work:
        item = work.pop()
        if isinstance(item, str):
            out.append(item)
        elif id(item) in names:
            out.append(names[id(item)])
        elif not item.args:
            out.append(_leaf_text(item))
        else:
            work.extend(reversed(_call_pieces(item, uses[id(item)] > 1, names)))
    return "".join(out)


def _call_pieces(node: Term, shared: bool, names: dict[int, str]) -> list[Term | str]:
    pieces: list[Term | str] = []
    if shared:
        names[id(node)] = f"_t{len(names)}"
        pieces.append(f"({names[id(node)]} := ")
    pieces.append(f"{node.op.value}(")
    for i, arg in enumerate(node.args):
        pieces.extend([", "] if i else [])
        pieces.append(arg)
    kwargs = [f"{k}={v!r}" for k, v in node.attrs]
    if kwargs:
        pieces.append(", " + ", ".join(kwargs))
    pieces.append("))" if shared else ")")
    return pieces


def _leaf_text(node: Term) -> str:
    match node.op:
        case Op.INPUT:
            return f"var({node.attr('name')!r}, {node.shape!r}, {node.dtype!r})"
        case Op.PARAM:
            ref = node.attr("ref")
            return f"param({ref.name!r}, {array_repr(ref.data)})"
        case Op.CONST:
            return f"const({node.attr('value')!r}, {node.dtype!r})"
        case _:
            raise AssertionError(f"{node.op} has no arguments but is not a leaf")
