"""The operator table: every op is complete, `Op` keeps the enum's spelling, scalar expansions
mean what the interpreter says, and the term core imports no op family."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import numpy as np
import pytest
from scipy import special

import frittata.terms as T
from frittata.terms.ops import BY_NAME, ELEMENTWISE, KERNELS, Cost, Op, define, lookup, ops_in_class
from frittata.errors import FrittataTypeError
from frittata.terms.term import Term, build

TERMS = Path(T.__file__).parent
CORE = ("ops", "term", "dtypes", "program", "printing", "walk", "infer", "prims", "attr_keys")


def test_op_keeps_the_enum_spelling():
    assert Op.ADD is BY_NAME["add"] and Op.ADD.value == "add" and repr(Op.ADD) == "Op.ADD"
    assert Op.FUSED_CONV2D.name == "fused_conv2d"
    assert {op.value for op in Op} == set(BY_NAME) and len(Op) == len(BY_NAME)
    assert pickle.loads(pickle.dumps(Op.GELU)) is Op.GELU
    with pytest.raises(AttributeError, match="no operator 'FROBNICATE'"):
        Op.FROBNICATE  # noqa: B018


def test_match_on_ops_compares_identity():
    match T.relu(T.var("x", (2,))).op:
        case Op.ADD:
            found = "add"
        case Op.RELU:
            found = "relu"
        case _:
            found = "other"
    assert found == "relu"


def test_classes_are_queried_by_name():
    unary = ops_in_class("unary")
    assert Op.RELU in unary and Op.ADD not in unary
    assert set(ops_in_class("elementwise")) == ELEMENTWISE
    assert Op.FUSED_ELEMENTWISE in KERNELS and Op.FUSED_ELEMENTWISE not in ELEMENTWISE
    with pytest.raises(FrittataTypeError, match="op class"):
        ops_in_class("elementwize")


def test_canonical_attributes_fill_defaults_and_name_unknown_or_missing_ones():
    assert Op.CONV2D.canonical({"pads": 1}) == (("strides", (1, 1)), ("pads", (1, 1, 1, 1)), ("dilations", (1, 1)),
                                                ("groups", 1))
    with pytest.raises(FrittataTypeError, match=r"conv2d: expected attributes among \('strides', 'pads', "
                                                r"'dilations', 'groups'\), got \['bogus'\]"):
        Op.CONV2D.canonical({"strides": 1, "bogus": 2})
    with pytest.raises(FrittataTypeError, match="reshape: expected attribute 'shape', got none"):
        Op.RESHAPE.canonical({})


def test_the_table_is_looked_up_by_name_and_refuses_a_second_definition():
    assert lookup("relu") is Op.RELU
    with pytest.raises(FrittataTypeError, match="expected an operator name, got 'nope'"):
        lookup("nope")
    with pytest.raises(AssertionError, match="op 'relu' is registered twice"):
        define("relu", 1, Op.RELU.infer)
    with pytest.raises(AssertionError, match=r"op 'zzz': unknown op classes \['nope'\]"):
        define("zzz", 1, Op.RELU.infer, classes=("nope",))
    assert "zzz" not in BY_NAME and lookup("relu") is Op.RELU


@pytest.mark.parametrize("op", list(Op), ids=lambda op: op.value)
def test_every_op_is_complete(op: Op):
    """Each op has a meaning, a way to ONNX, a builder, samplers, and elementwise ops a scalar form."""
    if not op.is_a("leaf"):
        assert op.evaluate is not None or op.expand is not None
        assert op.onnx is not None or op.onnx_export is not None or op.expand is not None
    assert op is Op.INPUT or hasattr(T, op.value), f"frittata.terms has no builder {op.value}"
    if op.is_a("elementwise"):
        assert op.scalar is not None and op.arity.high == op.arity.low
        assert op.cost in (Cost.ELEMENTWISE, Cost.TRANSCENDENTAL)
        assert all(a.choices is not None for a in op.attrs), "program generators need attribute samplers"


def test_the_term_core_imports_no_family():
    for name in CORE:
        tree = ast.parse((TERMS / f"{name}.py").read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        imported = {m.rsplit(".", 1)[-1] for m in imported if m.startswith("frittata.terms.")}
        assert imported <= set(CORE), f"{name} imports {sorted(imported - set(CORE))}"


class NumpyPrims:
    """The primitives of `frittata.terms.prims` on numpy arrays, each the obvious formula."""

    def dtype(self, x):
        return x.dtype.name

    def const(self, value, like):
        return np.array(value).astype(like.dtype)

    add, sub, mul, pow, maximum, minimum = (np.add, np.subtract, np.multiply, np.power, np.maximum, np.minimum)
    neg, abs, exp, log, sqrt, tanh, round = (np.negative, np.abs, np.exp, np.log, np.sqrt, np.tanh, np.rint)

    def div(self, x, y):
        if x.dtype.kind == "f":
            return x / y
        return np.trunc(x / np.where(y == 0, np.inf, y)).astype(x.dtype)

    def erf(self, x):
        return special.erf(x).astype(x.dtype)

    def clip(self, x, lo, hi):
        return np.clip(x, lo, hi).astype(x.dtype)

    def right_shift(self, x, shift):
        wide = x.astype(np.int64)
        return (wide if shift == 0 else (wide + (1 << (shift - 1))) >> shift).astype(x.dtype)

    def cast(self, x, dtype):
        return x.astype(dtype)

    def ge(self, x, y):
        return x >= y

    floor, ceil = np.floor, np.ceil
    logical_and, logical_or, logical_xor, logical_not = (np.logical_and, np.logical_or, np.logical_xor,
                                                         np.logical_not)

    def compare(self, pred, x, y):
        return {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal, ">": np.greater,
                ">=": np.greater_equal}[pred](x, y)

    def select(self, cond, a, b):
        return np.where(cond, a, b)


def _sample(op: Op, rng: np.random.Generator) -> tuple[Term, dict]:
    """A node of `op` over float32 (integer for integer-only ops) inputs, attributes drawn."""
    integer = op is Op.RIGHT_SHIFT
    dtype = "bool" if op.is_a("logic") else "int32" if integer else "float32"
    xs = [T.var(f"x{i}", (64,), "bool" if op is Op.WHERE and i == 0 else dtype) for i in range(op.arity.low)]
    x = xs[-1].type
    attrs = {a.name: a.choices(x)[int(rng.integers(len(a.choices(x))))] for a in op.attrs}
    return build(op, xs, **attrs), attrs


@pytest.mark.parametrize("op", sorted(ELEMENTWISE, key=lambda op: op.value), ids=lambda op: op.value)
def test_scalar_expansion_means_what_the_interpreter_says(op: Op):
    rng = np.random.default_rng(0)
    for _ in range(4):
        node, attrs = _sample(op, rng)
        inputs = {}
        for a in node.args:
            if a.dtype == "bool":
                inputs[a.attr("name")] = rng.integers(0, 2, a.shape).astype(bool)
            elif a.dtype == "int32":
                inputs[a.attr("name")] = rng.integers(-1000, 1000, a.shape).astype(np.int32)
            else:
                inputs[a.attr("name")] = rng.uniform(0.1 if op is Op.POW else -4, 4, a.shape).astype(np.float32)
        want = T.evaluate(node, inputs)
        with np.errstate(all="ignore"):
            got = op.scalar(NumpyPrims(), *(inputs[a.attr("name")] for a in node.args), **dict(node.attrs))
        np.testing.assert_allclose(np.asarray(got).astype(node.dtype), want, rtol=1e-6, atol=1e-6)
