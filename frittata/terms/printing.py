"""`repr` of terms as Python that rebuilds them (in the namespace of `frittata.terms`).

Shared sub-terms are printed once, at their first textual occurrence, as an assignment
expression (`(_t0 := relu(...))`) and by name afterwards, so a DAG prints in linear size.
Rendering is iterative, so deep networks print without recursion limits.
"""

from __future__ import annotations

from collections import Counter

from frittata.terms.ops import Op
from frittata.terms.term import Term, _array_repr, postorder


def term_repr(root: Term) -> str:
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
            return f"param({ref.name!r}, {_array_repr(ref.data)})"
        case Op.CONST:
            return f"const({node.attr('value')!r}, {node.dtype!r})"
        case _:
            raise AssertionError(f"{node.op} has no arguments but is not a leaf")
