"""What of an ONNX model imports, found without importing it (`frittata onnx check MODEL.onnx`).

`check_onnx(model)` reads the model and reports its default-domain opset, every operator type
with its node count and what import does with its nodes (converted to terms, folded to
constants at import time, or unsupported, naming the nodes), and the problems that would stop
the import before any node: an opset outside the range import reads, a graph input whose type
import refuses (not a tensor, or of a dtype frittata has no term type for). Nothing is converted
or compiled.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

import onnx

from frittata.errors import FrontendError
from frittata.terms.onnx_import import (
    DEFAULT_DOMAINS, OPSETS, check_early_opset, default_opset, input_dtype_problem, load_model, node_label,
    node_status)


@dataclass(frozen=True)
class OnnxCoverage:
    """`operators`: op type -> how many of its nodes are "converted", "folded", "unsupported";
    `unsupported`: op type -> the nodes that use it; `problems`: what stops the import whatever
    the nodes (opset, input dtypes)."""

    source: str
    opset: int | None
    operators: dict[str, Counter] = field(default_factory=dict)
    unsupported: dict[str, list[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def supported(self) -> bool:
        """Whether `from_onnx` gets past the checks this makes (every node has a converter or
        folds, the opset and the input dtypes are readable)."""
        return not self.unsupported and not self.problems

    def __str__(self) -> str:
        nodes = sum(sum(c.values()) for c in self.operators.values())
        verdict = "every operator imports" if self.supported else "does not import as it is"
        lines = [f"{self.source}: opset {self.opset if self.opset is not None else '?'}, {nodes} node(s) of "
                 f"{len(self.operators)} operator type(s): {verdict}"]
        for op, counts in sorted(self.operators.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
            how = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
            lines.append(f"  {op:<28} x{sum(counts.values()):<5} {how}")
        lines += [f"unsupported {op} x{len(names)}: {', '.join(names)}" for op, names in self.unsupported.items()]
        lines += [f"problem: {p}" for p in self.problems]
        return "\n".join(lines)


def check_onnx(model: str | os.PathLike | bytes | onnx.ModelProto) -> OnnxCoverage:
    """The coverage report of `model` (a path, bytes or ModelProto); an unreadable file is a
    FrontendError, anything the model itself lacks is in the report."""
    proto = load_model(model)
    source = os.fspath(model) if isinstance(model, (str, os.PathLike)) else "ONNX model"
    problems = []
    opset = next((o.version for o in proto.opset_import if o.domain in DEFAULT_DOMAINS), None)
    try:
        if default_opset(proto) < OPSETS.start:
            check_early_opset(proto.graph, default_opset(proto))
    except FrontendError as error:
        problems.append(str(error))
    problems += _input_dtype_problems(proto.graph)
    coverage = OnnxCoverage(source, opset, problems=problems)
    for node, op, status in node_status(proto.graph, set()):
        coverage.operators.setdefault(op, Counter())[status] += 1
        if status == "unsupported":
            coverage.unsupported.setdefault(op, []).append(node_label(node))
    return coverage


def _input_dtype_problems(graph: onnx.GraphProto) -> list[str]:
    """A problem per graph input (not an initializer) whose type import refuses: no tensor type
    (a sequence, no type at all), an undefined element type, or a dtype frittata has no type for."""
    initializers = {i.name for i in graph.initializer}
    problems = (input_dtype_problem(value) for value in graph.input if value.name not in initializers)
    return [p for p in problems if p is not None]
