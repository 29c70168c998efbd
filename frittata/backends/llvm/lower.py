"""Lower one planned step (a term and its buffers) to the body of one kernel function.

Every operator of the term language lowers natively. Elementwise operators (and constants and
inference batch norm) become a map over one expression, each op emitted through its scalar
expansion (`scalar.elementwise`), so a new elementwise op needs no case here; the match over
the other operators is exhaustive. Contractions take the register-blocked float32 GEMM /
convolution paths when their schedule says so (`fastpath`), the generic loops otherwise.
"""

from __future__ import annotations

from frittata.backends.llvm import (bitpack, bitserial, byte_levels, fastpath, indexing, movement, nn, pool, reduce,
                                    softmax_prologue,
                                   row_copies, transpose_tiles)
from frittata.backends.llvm.expr import Apply, Expr, Konst, Leaf, emit_map
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.plan import EXPRESSION_KERNELS, EXPRESSION_OPS, Plan, Step
from frittata.backends.llvm.views import (View, broadcast_to, channel_view, contiguous, nchwc_strides, padded,
                                         scatter_nchwc, slice_view, transpose)
from frittata.errors import LoweringError
from frittata.terms.expansion import expand
from frittata.terms.fused import fused_elementwise
from frittata.terms.ops import Op
from frittata.terms.term import Term
from frittata.terms.tiled import UNTILED


def view_of(plan: Plan, t: Term) -> View:
    return contiguous(plan.location[id(t)])


def operand(plan: Plan, t: Term, shape: tuple[int, ...]) -> Expr:
    """`t` broadcast to `shape`: a read of its buffer, or an inlined constant."""
    if id(t) in plan.inlined:
        return Konst(t.attr("value"), t.dtype)
    return Leaf(broadcast_to(view_of(plan, t), shape))


def node_expression(plan: Plan, t: Term, shape: tuple[int, ...]) -> Expr:
    """The expression computing elementwise term `t` from its operands."""
    if t.op == Op.CONST:
        return Konst(t.attr("value"), t.dtype)
    if t.op == Op.BATCH_NORM:
        return _batch_norm(plan, t, shape)
    return Apply(t.op, t.attrs, tuple(operand(plan, a, shape) for a in t.args), t.dtype)


def fused_expression(plan: Plan, t: Term) -> Expr:
    """The expression of a `fused_elementwise` kernel: its expansion, operands read as leaves."""
    operands = {id(a) for a in t.args}

    def go(node: Term) -> Expr:
        if id(node) in operands:
            return operand(plan, node, t.shape)
        if node.op == Op.CONST:
            return Konst(node.attr("value"), node.dtype)
        return Apply(node.op, node.attrs, tuple(go(a) for a in node.args), node.dtype)

    return go(expand(t))


def _batch_norm(plan: Plan, t: Term, shape: tuple[int, ...]) -> Expr:
    """(x - mean) / sqrt(var + eps) * scale + bias, the statistics read per channel."""
    x = operand(plan, t.args[0], shape)
    scale, bias, mean, var = (Leaf(broadcast_to(channel_view(plan.location[id(a)], len(shape)), shape))
                              for a in t.args[1:])

    def f(op: Op, *args: Expr) -> Apply:
        return Apply(op, (), args, "float32")

    denominator = f(Op.SQRT, f(Op.ADD, var, Konst(t.attr("eps"), "float32")))
    return f(Op.ADD, f(Op.MUL, f(Op.DIV, f(Op.SUB, x, mean), denominator), scale), bias)


def lower_step(k: Kernel, plan: Plan, step: Step) -> None:
    t, out = step.term, contiguous(step.out)
    if step.copy_of is not None:
        emit_map(k, t.shape, out, Leaf(view_of(plan, t)))
        return
    args = [] if t.op in EXPRESSION_OPS or t.op in EXPRESSION_KERNELS else [view_of(plan, a) for a in t.args]
    if t.op.is_a("elementwise") or t.op in (Op.CONST, Op.BATCH_NORM):
        emit_map(k, t.shape, out, node_expression(plan, t, t.shape))
        return
    match t.op:
        case Op.FUSED_SOFTMAX:
            prologue = fused_expression(plan, fused_elementwise(*t.args, expr=t.attr("expr")))
            softmax_prologue.emit(k, prologue, t.attr("axis"), out)
        case Op.FUSED_ELEMENTWISE:
            x = None if id(t.args[0]) in plan.inlined else view_of(plan, t.args[0])
            thresholds = None if x is None else byte_levels.thresholds_for(t, x, out)
            if thresholds is not None:
                assert x is not None
                byte_levels.emit_byte_levels(k, t, x, out, thresholds)
            else:
                emit_map(k, t.shape, out, fused_expression(plan, t))
        case (Op.MATMUL | Op.DENSE | Op.CONV2D | Op.FUSED_CONV2D | Op.FUSED_DENSE | Op.TILED_CONV2D | Op.TILED_DENSE
              | Op.WINOGRAD_CONV2D):
            _contraction(k, plan, step, args, out)
        case Op.BITSERIAL_CONV2D | Op.BITSERIAL_DENSE:
            bitserial.lower(k, plan, step, args)
        case Op.BITPACK:
            bitpack.lower_bitpack(k, t, args[0], out)
        case Op.BITUNPACK:
            bitpack.lower_bitunpack(k, t, args[0], out)
        case Op.MAX_POOL2D:
            pool.emit_max_pool(k, args[0], t.attr, out)
        case Op.AVG_POOL2D:
            nn.emit_avg_pool(k, args[0], t.attr, out)
        case Op.GLOBAL_AVG_POOL:
            axes = tuple(range(2, len(t.shape)))
            reduce.emit_reduce(k, Op.REDUCE_MEAN, args[0], axes, contiguous(step.out, t.shape[:2]))
        case Op.REDUCE_SUM | Op.REDUCE_MEAN | Op.REDUCE_MAX | Op.REDUCE_MIN | Op.REDUCE_PROD:
            reduce.emit_reduce(k, t.op, args[0], t.attr("axes"), out)
        case Op.ARG_MAX | Op.ARG_MIN:
            reduce.emit_arg_reduce(k, t.op, args[0], t.attr("axis"), t.attr("last"), out)
        case Op.SOFTMAX:
            reduce.emit_softmax(k, args[0], t.attr("axis"), out)
        case Op.LAYER_NORM:
            reduce.emit_layer_norm(k, args[0], args[1], args[2], t.attr("axis"), t.attr("eps"), out)
        case Op.TRANSPOSE if (tiles := transpose_tiles.tiled(out, _moved(t, args[0]))) is not None:
            transpose_tiles.emit(k, *tiles)
        case Op.TRANSPOSE | Op.SLICE if (whole_rows := row_copies.rows(out, _moved(t, args[0]))) is not None:
            row_copies.emit(k, *whole_rows)
        case Op.TRANSPOSE | Op.SLICE | Op.PAD | Op.PACK_NCHWC:
            emit_map(k, t.shape, out, Leaf(_moved(t, args[0])))
        case Op.UNPACK_NCHWC:
            emit_map(k, args[0].shape, scatter_nchwc(step.out, t.attr("c")), Leaf(args[0]))
        case Op.BROADCAST_TO:
            emit_map(k, t.shape, out, Leaf(broadcast_to(args[0], t.shape)))
        case Op.CONCAT:
            movement.emit_concat(k, args, t.attr("axis"), out)
        case Op.GATHER:
            movement.emit_gather(k, args[0], t.attr("axis"), t.attr("indices"), out)
        case _ if t.op.is_a("indexed") or t.op == Op.ONE_HOT:
            indexing.emit(k, t, args, out, None if step.status is None else contiguous(step.status))
        case Op.INPUT | Op.PARAM | Op.RESHAPE:
            raise AssertionError(f"{t.op} is placed, never a kernel step")
        case _ if t.op.is_a("vta"):
            raise LoweringError(f"llvm: expected ops the CPU runs, got {t.op.value}, a VTA accelerator op "
                                "(build for the vta target)")
        case _:
            raise LoweringError(f"llvm: expected an operator the CPU backend lowers, got {t.op.value}")


def _moved(t: Term, x: View) -> View:
    """The input view that a transpose / slice / pad / pack reads, indexed like the output."""
    match t.op:
        case Op.TRANSPOSE:
            return transpose(x, t.attr("perm"))
        case Op.SLICE:
            return slice_view(x, t.attr("slices"))
        case Op.PAD:
            return padded(x, t.attr("pads"), t.attr("value"))
        case _:
            return View(x.buf, t.shape, 0, nchwc_strides(x.shape, t.attr("c")))


def _contraction(k: Kernel, plan: Plan, step: Step, args: list[View], out: View) -> None:
    t = step.term
    if fastpath.lower(k, plan, step, args, k.lanes):
        return
    match t.op:
        case Op.MATMUL:
            nn.emit_matmul(k, args[0], args[1], out)
        case Op.DENSE:
            nn.emit_dense(k, args[0], args[1], out)
        case Op.CONV2D:
            nn.emit_conv2d(k, args[0], args[1], t.attr, out)
        case Op.WINOGRAD_CONV2D:
            nn.emit_fused(k, Op.FUSED_CONV2D, t.attr, args, out)
        case _:
            nn.emit_fused(k, UNTILED.get(t.op, t.op), t.attr, args, out)
