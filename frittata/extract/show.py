"""Pictures of what extraction chose: DOT text of a program or of an e-graph neighbourhood.

`program_dot` draws one box per kernel (operator, attributes, output type; fused kernels
list their epilogue and are filled), with inputs and outputs as ellipses and parameters folded
into their consumer's label, and nodes computed from parameters only (folded at compile time)
dashed; with a cost model, each kernel shows its modelled time, and with measured times (a
profile's, `Profile.measured()`) its measured time first. `egraph_dot`
draws the e-classes below one e-class as clusters of their e-nodes, the chosen ones bold.
DOT text needs nothing installed; `write_svg` runs the graphviz `dot` program.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from frittata.errors import FrittataError
from frittata.extract.cost import CostModel, checked_cost, term_infos
from frittata.rewrites.data import Choice, EGraphData
from frittata.terms.ops import KERNELS, Op
from frittata.terms.program import Program
from frittata.terms.term import Term

_HIDDEN_ATTRS = frozenset({"ref", "epilogue"})


def quote(text: str) -> str:
    """`text` as a DOT double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def term_label(term: Term) -> str:
    """Operator, attributes (parameters by name) and output type, one per line."""
    lines = [term.op.value]
    lines += [f"{k}={v}" for k, v in term.attrs if k not in _HIDDEN_ATTRS and term.op != Op.INPUT]
    if term.op in (Op.FUSED_CONV2D, Op.FUSED_DENSE):
        steps = " > ".join(" ".join(str(p) for p in step) for step in term.attr("epilogue"))
        lines.append(f"epilogue: {steps or '(bias only)'}")
    params = [a.attr("ref").name for a in term.args if a.op == Op.PARAM]
    if params:
        lines.append("params: " + ", ".join(params))
    lines.append(str(term.type))
    return "\n".join(lines)


def program_dot(program: Program, target: str | None = None, cost_model: CostModel | None = None,
                title: str | None = None, measured: Mapping[int, float] | None = None) -> str:
    """DOT text of `program`, operands above their users; parameters shown in labels;
    `measured` maps `id(term)` to measured seconds."""
    ids = {id(t): f"n{i}" for i, t in enumerate(program.terms())}
    heading = " | ".join(s for s in (title, f"target {target}" if target else None) if s)
    lines = ["digraph program {", "  rankdir=TB;", '  node [shape=box, fontname="Helvetica", fontsize=10];']
    if heading:
        lines.append(f"  labelloc=t; label={quote(heading)};")
    for term, info in term_infos(program):
        if term.op == Op.PARAM:
            continue
        label = term_label(term)
        if measured is not None and id(term) in measured:
            label += f"\nmeasured {measured[id(term)] * 1e6:.1f} us"
        if cost_model is not None and term.op not in (Op.INPUT, Op.CONST):
            label += f"\n{'model ' if measured is not None else ''}{checked_cost(cost_model, info) * 1e6:.1f} us"
        lines.append(f"  {ids[id(term)]} [label={quote(label)}{_style(term, info.constant)}];")
        lines += [f"  {ids[id(a)]} -> {ids[id(term)]};" for a in term.args if a.op != Op.PARAM]
    for name, term in program.outputs.items():
        lines.append(f"  out_{name} [label={quote(name)}, shape=ellipse];")
        lines.append(f"  {ids[id(term)]} -> out_{name};")
    return "\n".join(lines + ["}"]) + "\n"


def _style(term: Term, folded: bool) -> str:
    """Inputs are ellipses, fused kernels bold and filled, constant (folded) nodes dashed grey."""
    match term.op:
        case Op.INPUT:
            return ", shape=ellipse"
        case Op.FUSED_CONV2D | Op.FUSED_DENSE:
            return ', style="filled,bold", fillcolor="#ffe9b3"'
        case _ if term.op in KERNELS:
            return ', style=filled, fillcolor="#dde8ff"'
        case _ if folded:
            return ', style=dashed, color=grey, fontcolor=grey'
        case _:
            return ""


def egraph_dot(data: EGraphData, eclass: int, depth: int = 2, choice: Choice | None = None) -> str:
    """DOT text of the e-classes within `depth` operand steps below `eclass` (chosen e-nodes bold)."""
    if not 0 <= eclass < len(data.classes):
        raise FrittataError(f"egraph_dot: expected an e-class in [0, {len(data.classes)}), got {eclass}")
    shown = _below(data, eclass, depth)
    lines = ["digraph egraph {", "  compound=true;", '  node [shape=box, fontname="Helvetica", fontsize=9];']
    for cls in shown:
        lines.append(f"  subgraph cluster_{cls} {{ label={quote(f'e-class {cls}: {data.classes[cls].type}')};")
        lines.append(f"    c{cls} [shape=point, style=invis];")
        for n in data.classes[cls].nodes:
            bold = ", style=bold, color=red" if choice is not None and choice.get(cls) == n else ""
            lines.append(f"    e{n} [label={quote(data.nodes[n].op.value)}{bold}];")
        lines.append("  }")
    for cls in shown:
        for n in data.classes[cls].nodes:
            lines += [f"  e{n} -> c{c} [lhead=cluster_{c}];" for c in data.nodes[n].children if c in shown]
    return "\n".join(lines + ["}"]) + "\n"


def _below(data: EGraphData, eclass: int, depth: int) -> list[int]:
    """Classes reachable from `eclass` in at most `depth` operand steps, sorted."""
    seen, frontier = {eclass}, [eclass]
    for _ in range(depth):
        children = [c for cls in frontier for n in data.classes[cls].nodes for c in data.nodes[n].children]
        frontier = [c for c in dict.fromkeys(children) if c not in seen]
        seen.update(frontier)
    return sorted(seen)


def write_svg(dot_text: str, path: str | Path) -> Path:
    """Render DOT text to an SVG file with graphviz's `dot`; error if it is not installed."""
    dot = shutil.which("dot")
    if dot is None:
        raise FrittataError("write_svg: expected the graphviz `dot` program on PATH, found none; install "
                            "graphviz (apt-get install graphviz) or save the DOT text instead")
    result = subprocess.run([dot, "-Tsvg", "-o", str(path)], input=dot_text, text=True, capture_output=True)
    if result.returncode != 0:
        raise FrittataError(f"write_svg: dot failed on {path}: {result.stderr.strip()}")
    return Path(path)
