"""The reference interpreter: the meaning of every term, in plain numpy.

It is the oracle of every property test, so it favours the obvious formula over the fast one.
Float ops compute in the term's dtype; integer contractions accumulate exactly and wrap to
int32 like the hardware does.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from frittata.errors import RuntimeInputError
from frittata.terms.dtypes import TensorType
from frittata.terms.fused import expand, placeholders
from frittata.terms.interp_nn import conv2d, pool2d
from frittata.terms.kernels import eval_kernel
from frittata.terms.tiled import eval_tiled
from frittata.terms.ops import BINARY, Op
from frittata.terms.program import Program
from frittata.terms.term import Term, postorder
from frittata.terms.vta_ops import eval_vta
from scipy import special


def evaluate(program: Program | Term, inputs: Mapping[str, np.ndarray] | None = None):
    """Evaluate a Program (-> dict of outputs) or a single Term (-> array) on named inputs."""
    inputs = dict(inputs or {})
    if isinstance(program, Term):
        return evaluate(Program({"out": program}), inputs)["out"]
    check_inputs(program.inputs, inputs, "evaluate")
    values: dict[int, np.ndarray] = {}
    with np.errstate(all="ignore"):
        for node in postorder(program.outputs.values()):
            values[id(node)] = _checked(node, eval_node(node, [values[id(a)] for a in node.args], inputs))
    return {name: values[id(t)] for name, t in program.outputs.items()}


def check_inputs(expected: Mapping[str, TensorType], given: Mapping[str, object], where: str) -> None:
    """Raise RuntimeInputError unless `given` has exactly the expected names, shapes and dtypes."""
    missing = [n for n in expected if n not in given]
    extra = [n for n in given if n not in expected]
    if missing or extra:
        raise RuntimeInputError(f"{where}: expected inputs {list(expected)}, got {list(given)}"
                                f" (missing {missing}, unexpected {extra})")
    for name, ty in expected.items():
        value = given[name]
        if not isinstance(value, np.ndarray):
            raise RuntimeInputError(f"{where}: input {name!r}: expected a numpy array {ty}, got {type(value).__name__}")
        if value.shape != ty.shape or value.dtype.name != ty.dtype:
            got = f"{value.dtype.name}{list(value.shape)}"
            raise RuntimeInputError(f"{where}: input {name!r}: expected {ty}, got {got}")


def _checked(node: Term, value: np.ndarray) -> np.ndarray:
    value = np.asarray(value).astype(node.dtype, copy=False)
    assert value.shape == node.shape, f"interpreter bug: {node.op} gave {value.shape}, typed {node.shape}"
    return value


def eval_node(node: Term, args: list[np.ndarray], inputs: Mapping[str, np.ndarray]) -> np.ndarray:
    op, attr = node.op, node.attr
    match op:
        case Op.INPUT:
            return inputs[attr("name")]
        case Op.PARAM:
            return attr("ref").data
        case Op.CONST:
            return np.array(attr("value"), dtype=node.dtype)
        case _ if op in BINARY:
            return _binary(op, args[0], args[1])
        case Op.WHERE:
            return np.where(*args)
        case Op.MATMUL | Op.DENSE | Op.CONV2D:
            return _contraction(node, args)
        case Op.MAX_POOL2D | Op.AVG_POOL2D:
            return pool2d(args[0], node)
        case Op.GLOBAL_AVG_POOL:
            return args[0].mean(axis=tuple(range(2, args[0].ndim)), keepdims=True)
        case Op.BATCH_NORM | Op.LAYER_NORM | Op.SOFTMAX:
            return _normalization(node, args)
        case Op.REDUCE_SUM | Op.REDUCE_MEAN | Op.REDUCE_MAX:
            return _reduce(node, args[0])
        case Op.RESHAPE | Op.TRANSPOSE | Op.CONCAT | Op.SLICE | Op.PAD | Op.GATHER:
            return _movement(node, args)
        case Op.FUSED_CONV2D | Op.FUSED_DENSE | Op.PACK_NCHWC | Op.UNPACK_NCHWC:
            return eval_kernel(node, args, _contraction)
        case Op.TILED_CONV2D | Op.TILED_DENSE:
            return eval_tiled(node, args, _contraction)
        case Op.FUSED_ELEMENTWISE:
            return _fused(node, args)
        case Op.VTA_PACK | Op.VTA_UNPACK | Op.VTA_DENSE | Op.VTA_CONV2D:
            return eval_vta(node, args)
        case _:
            return _unary(node, args[0])


def _fused(node: Term, args: list[np.ndarray]) -> np.ndarray:
    """The meaning of a fused elementwise kernel: its expansion, evaluated on the operands."""
    stand_ins = placeholders([a.type for a in node.args])
    expansion = expand(node.attr("expr"), stand_ins)
    return evaluate(expansion, {t.attr("name"): a for t, a in zip(stand_ins, args)})


def _binary(op: Op, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    match op:
        case Op.ADD:
            return a + b
        case Op.SUB:
            return a - b
        case Op.MUL:
            return a * b
        case Op.DIV:
            if a.dtype.kind in "iu":
                wide_a, wide_b = a.astype(np.int64), b.astype(np.int64)
                safe = np.where(wide_b == 0, 1, wide_b)
                return np.where(wide_b == 0, 0, np.abs(wide_a) // np.abs(safe) * np.sign(wide_a) * np.sign(safe))
            return a / b
        case Op.POW:
            return np.power(a, b)
        case Op.MAXIMUM:
            return np.maximum(a, b)
        case Op.MINIMUM:
            return np.minimum(a, b)
        case _:
            raise AssertionError(f"{op} is not binary")


def _unary(node: Term, x: np.ndarray) -> np.ndarray:
    op = node.op
    match op:
        case Op.NEG:
            return -x
        case Op.ABS:
            return np.abs(x)
        case Op.EXP:
            return np.exp(x)
        case Op.LOG:
            return np.log(x)
        case Op.SQRT:
            return np.sqrt(x)
        case Op.ERF:
            return special.erf(x)
        case Op.TANH:
            return np.tanh(x)
        case Op.SIGMOID:
            return special.expit(x)
        case Op.RELU:
            return np.maximum(x, np.zeros((), x.dtype))
        case Op.LEAKY_RELU:
            return np.where(x >= 0, x, x * np.float32(node.attr("alpha")))
        case Op.GELU:
            return _gelu(x, node.attr("approximate"))
        case Op.CLIP:
            return np.clip(x, node.attr("lo"), node.attr("hi"))
        case Op.CAST:
            return x.astype(node.attr("dtype"))
        case Op.ROUND:
            return np.rint(x)
        case Op.RIGHT_SHIFT:
            shift = node.attr("shift")
            wide = x.astype(np.int64)
            return wide if shift == 0 else (wide + (1 << (shift - 1))) >> shift
        case _:
            raise AssertionError(f"no interpreter case for {op}")


def _gelu(x: np.ndarray, approximate: str) -> np.ndarray:
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    return 0.5 * x * (1 + special.erf(x / np.sqrt(2)))


def _contraction(node: Term, args: list[np.ndarray]) -> np.ndarray:
    """matmul / dense / conv2d of the first two args: float32, or exact int64 for integers."""
    integer = args[0].dtype.kind in "iu"
    exact_float = integer and all(a.dtype.itemsize == 1 for a in args)
    if exact_float:  # int8/uint8 products sum exactly in float64 (|sum| < 2^53)
        args = [a.astype(np.float64) for a in args]
    elif integer:
        args = [a.astype(np.int64) for a in args]
    match node.op:
        case Op.MATMUL:
            out = np.matmul(args[0], args[1])
        case Op.DENSE | Op.FUSED_DENSE:
            out = np.matmul(args[0], args[1].T)
        case _:
            out = conv2d(args[0], args[1], node)
    if integer:
        out = (np.rint(out) if exact_float else out).astype(np.int64)
    return out


def _normalization(node: Term, args: list[np.ndarray]) -> np.ndarray:
    x = args[0]
    match node.op:
        case Op.BATCH_NORM:
            scale, bias, mean, var = (a.reshape((1, -1) + (1,) * (x.ndim - 2)) for a in args[1:])
            return (x - mean) / np.sqrt(var + np.float32(node.attr("eps"))) * scale + bias
        case Op.LAYER_NORM:
            axes = tuple(range(node.attr("axis"), x.ndim))
            mean = x.mean(axis=axes, keepdims=True)
            var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
            return (x - mean) / np.sqrt(var + np.float32(node.attr("eps"))) * args[1] + args[2]
        case _:
            shifted = np.exp(x - x.max(axis=node.attr("axis"), keepdims=True))
            return shifted / shifted.sum(axis=node.attr("axis"), keepdims=True)


def _reduce(node: Term, x: np.ndarray) -> np.ndarray:
    axes, keep = node.attr("axes"), node.attr("keepdims")
    match node.op:
        case Op.REDUCE_SUM:
            return x.sum(axis=axes, keepdims=keep)
        case Op.REDUCE_MEAN:
            return x.mean(axis=axes, keepdims=keep)
        case Op.REDUCE_MAX:
            return x.max(axis=axes, keepdims=keep)
        case _:
            raise AssertionError(f"{node.op} is not a reduction")


def _movement(node: Term, args: list[np.ndarray]) -> np.ndarray:
    x, attr = args[0], node.attr
    match node.op:
        case Op.RESHAPE:
            return x.reshape(attr("shape"))
        case Op.TRANSPOSE:
            return x.transpose(attr("perm"))
        case Op.CONCAT:
            return np.concatenate(args, axis=attr("axis"))
        case Op.SLICE:
            return x[tuple(slice(*s) for s in attr("slices"))]
        case Op.PAD:
            return np.pad(x, attr("pads"), constant_values=attr("value"))
        case Op.GATHER:
            indices = np.array(attr("indices"), dtype=np.int64).reshape(attr("indices_shape"))
            return np.take(x, indices, axis=attr("axis"))
        case _:
            raise AssertionError(f"{node.op} is not data movement")
