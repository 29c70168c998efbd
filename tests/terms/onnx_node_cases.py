"""The ONNX backend node tests shipped in the installed `onnx` package, run through frittata.

`cases()` builds every node test case in memory (`onnx.backend.test.case.node`, no files, no
download), `in_scope` keeps the ones whose operators frittata's importer claims and whose
tensors have dtypes frittata has, and `run_case` imports one with `ft.from_onnx` (binding the
graph inputs that import needs as constants, as a user would with `constants=`), evaluates it
with `ft.evaluate` (or a compiled module) and compares with the case's expected outputs at the
case's own tolerances. Used by tests/terms/test_onnx_node_suite.py and bench/onnx_coverage.py.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

import frittata as ft
from frittata.terms.dtypes import DTYPES
from frittata.terms.onnx_import import DEFAULT_DOMAINS
from frittata.terms.onnx_node import UnboundInputError
from frittata.terms.onnx_ops import CONVERTERS

Feeds = dict[str, np.ndarray]


@dataclass(frozen=True)
class Case:
    name: str
    model: onnx.ModelProto
    data_sets: list[tuple[list, list]]
    rtol: float
    atol: float

    @property
    def op_types(self) -> set[str]:
        return {n.op_type for n in self.model.graph.node}

    @property
    def operator(self) -> str:
        """The operator the case tests: its single node's, or the name's for expanded graphs."""
        nodes = self.model.graph.node
        return nodes[0].op_type if len(nodes) == 1 else "expanded:" + self.name.removeprefix("test_")


def _array(value) -> np.ndarray:
    return numpy_helper.to_array(value) if isinstance(value, onnx.TensorProto) else np.asarray(value)


@functools.cache
def cases() -> tuple[Case, ...]:
    """Every node test case of the installed onnx package (about 25 s to build them all)."""
    from onnx.backend.test.case import node

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        found = node.collect_testcases(None)
    return tuple(Case(c.name, c.model, c.data_sets, c.rtol, c.atol) for c in found)


def dtypes(model: onnx.ModelProto) -> set[str]:
    """numpy names of the element types of the graph's inputs and outputs and of Cast targets."""
    graph = model.graph
    values = list(graph.input) + list(graph.output)
    kinds = {v.type.WhichOneof("value") for v in values} - {"tensor_type"}
    codes = {v.type.tensor_type.elem_type for v in values}
    codes |= {a.i for n in graph.node for a in n.attribute if a.name == "to"}
    return {_dtype_name(c) for c in codes if c} | {str(k) for k in kinds}


def _dtype_name(code: int) -> str:
    try:
        return helper.tensor_dtype_to_np_dtype(code).name
    except (KeyError, ValueError):
        return onnx.TensorProto.DataType.Name(code).lower()


def claimed(case: Case) -> bool:
    """Every node is a default-domain operator the importer claims (converts or folds)."""
    return all(n.domain in DEFAULT_DOMAINS for n in case.model.graph.node) and case.op_types <= set(CONVERTERS)


def exotic_dtypes(case: Case) -> set[str]:
    """The case's dtypes frittata has no term type for (bfloat16, float8, int4, string, ...)."""
    return dtypes(case.model) - set(DTYPES)


def in_scope(case: Case) -> bool:
    return claimed(case) and not exotic_dtypes(case)


Runner = Callable[[ft.Program, Feeds], dict[str, np.ndarray]]


def interpreter(program: ft.Program, feeds: Feeds) -> dict[str, np.ndarray]:
    return ft.evaluate(program, feeds)


def llvm(program: ft.Program, feeds: Feeds) -> dict[str, np.ndarray]:
    return ft.compile(program, target="llvm").run(**feeds)


def import_case(case: Case) -> tuple[ft.Program, Feeds]:
    """The imported program, binding graph inputs import needs as constants (from data set 0)."""
    names = [i.name for i in case.model.graph.input]
    first = dict(zip(names, map(_array, case.data_sets[0][0])))
    bound: Feeds = {}
    while True:
        try:
            return ft.from_onnx(case.model, constants=bound), bound
        except UnboundInputError as e:
            if set(e.names) <= set(bound):
                raise
            bound.update({name: first[name] for name in e.names})


def run_case(case: Case, runner: Runner = interpreter) -> None:
    """Import, run and compare every data set of `case`; raises on the first mismatch."""
    program, bound = import_case(case)
    names = [i.name for i in case.model.graph.input]
    for inputs, expected in case.data_sets:
        feeds = dict(zip(names, map(_array, inputs)))
        if any(not np.array_equal(feeds[n], v) for n, v in bound.items()):
            program, bound = ft.from_onnx(case.model, constants={n: feeds[n] for n in bound}), bound
        got = runner(program, {n: feeds[n] for n in program.inputs})
        for (name, value), want in zip(got.items(), map(_array, expected)):
            assert value.dtype == want.dtype, f"{name}: dtype {value.dtype}, expected {want.dtype}"
            np.testing.assert_allclose(value, want, rtol=case.rtol, atol=case.atol, err_msg=name)


def outcome(case: Case, runner: Runner = interpreter) -> str | None:
    """None if the case passes, else a one-line reason."""
    try:
        with np.errstate(all="ignore"):
            run_case(case, runner)
    except (ft.FrittataError, AssertionError) as e:
        return f"{type(e).__name__}: {' '.join(str(e).split())[:160]}"
    return None
