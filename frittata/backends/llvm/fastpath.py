"""The register-blocked float32 contraction paths: which steps take them, their scratch, their lowering.

    dense / fused_dense / tiled_dense      x[..., K] · w[N, K]ᵀ: w packed into panels at compile
                                           time, or at run time when it is computed (training);
                                           the bias (per column) is a parameter
    matmul                                 a[..., M, K] · b[K, N]: b packed at compile time (a
                                           parameter) or at run time; a batched b with a's batch
                                           axes runs one GEMM per batch item (`batched`)
    conv2d / fused_conv2d / tiled_conv2d   groups = 1: the register-blocked direct convolution of `conv`
    conv2d / fused_conv2d / tiled_conv2d   one input channel per group: the vectorized kernel of `depthwise`
    winograd_conv2d                        weights and bias parameters: the transforms and GEMMs of `winograd`;
                                           int8 x int8: the exact integer ones of `int8winograd`
    conv2d / fused_conv2d                  int8 x int8, weights and bias parameters: the int16-pair kernel of `int8conv`
    conv2d / fused_conv2d                  pointwise, weights a parameter, a small image: the GEMM over its
                                           pixels of `pixel_gemm`
    conv2d / fused_conv2d                  strided, weights a parameter, a deep enough reduction: the
                                           channels-in-lanes direct convolution of `lanes_conv`
    conv2d / fused_conv2d                  pointwise, weights a parameter, expanding the channels: the
                                           GEMM of the weights and each image's pixels of `channel_gemm`

The backend decides nothing here: `cpu_schedules.blocked_schedule` (which the CPU cost model reads
too) says whether a step takes the blocked path and with which schedule; every other
contraction takes the generic loops of `nn`.
"""

from __future__ import annotations

import math
from typing import assert_never

import numpy as np

from frittata.backends.llvm import (batched, channel_gemm, conv, depthwise, int8conv, int8winograd, lanes_conv,
                                   pixel_gemm, winograd)
from frittata.backends.llvm.gemm import Gemm, emit_blocked, emit_pack_runtime
from frittata.backends.packing import panels as pack_panels
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.plan import Plan, Step
from frittata.backends.llvm.views import View
from frittata.terms.cpu_schedules import CONV_OPS, Schedule, blocked_schedule, kernel_of
from frittata.terms.ops import Op
from frittata.terms.term import Term


def schedule(term: Term, lanes: int) -> Schedule | None:
    """The blocked path's schedule for `term` (its constant operands are its parameters), or None."""
    return blocked_schedule(term.op, term.attrs, term.type, tuple(a.type for a in term.args),
                            tuple(a.op == Op.PARAM for a in term.args), lanes)


def scratch_bytes(term: Term, lanes: int) -> int:
    """Per-step scratch: the padded input of a convolution, run-time packed panels of a matmul."""
    s = schedule(term, lanes)
    if s is None:
        return 0
    match kernel_of(s):
        case "pixel_gemm":
            return pixel_gemm.scratch_bytes(term, s)
        case "depthwise":
            return depthwise.scratch_bytes(term, s)
        case "winograd":
            return winograd.scratch_bytes(term, s)
        case "int8":
            return int8conv.scratch_bytes(term, s)
        case "int8_winograd":
            return int8winograd.scratch_bytes(term, s)
        case "lanes_conv":
            return lanes_conv.scratch_bytes(term, s)
        case "channel_gemm":
            return channel_gemm.scratch_bytes(term, s)
        case "blocked" if term.op in CONV_OPS:
            return conv.scratch_bytes(term, s)
        case "blocked":
            if term.op == Op.MATMUL and term.args[1].type.rank > 2:
                return batched.scratch_bytes(math.prod(term.shape[:-2]), _gemm(term, s))
            if term.args[1].op != Op.PARAM:
                g = _gemm(term, s)
                return g.panels * g.nr * g.k * 4
            return 0
        case unknown:
            assert_never(unknown)


def _gemm(term: Term, s: Schedule) -> Gemm:
    x, w = term.args[0], term.args[1]
    k = x.shape[-1]
    if term.op == Op.MATMUL:
        return Gemm.of(x.shape[-2] if w.type.rank > 2 else x.type.size // k if k else 0, w.shape[-1], k, s)
    m, n = x.type.size // k if k else 0, w.shape[0]
    if term.op == Op.DENSE:
        return Gemm.of(m, n, k, s)
    return Gemm.of(m, n, k, s, "col", term.attr("epilogue"))


def lower(k: Kernel, plan: Plan, step: Step, args: list[View], lanes: int) -> bool:
    """Emit the blocked path for `step` if it takes one; False leaves it to the generic loops."""
    t = step.term
    s = schedule(t, lanes)
    if s is None or t.type.size == 0 or t.args[0].shape[-1] == 0:
        return False
    match kernel_of(s):
        case "depthwise":
            depthwise.lower(k, step, args, s)
        case "winograd":
            winograd.lower(k, plan, step, args, s)
        case "int8":
            int8conv.lower(k, plan, step, args, s)
        case "int8_winograd":
            int8winograd.lower(k, plan, step, args, s)
        case "pixel_gemm":
            pixel_gemm.lower(k, plan, step, args, s)
        case "lanes_conv":
            lanes_conv.lower(k, plan, step, args, s)
        case "channel_gemm":
            channel_gemm.lower(k, plan, step, args, s)
        case "blocked" if t.op in CONV_OPS:
            conv.lower(k, plan, step, args, s)
        case "blocked":
            _lower_gemm(k, plan, step, args, s)
        case unknown:
            assert_never(unknown)
    return True


def _lower_gemm(k: Kernel, plan: Plan, step: Step, args: list[View], s: Schedule) -> None:
    """Emit a dense layer or matmul on the blocked GEMM (weights packed at compile time, or by
    the threads at run time); a batched matmul on one GEMM per batch item."""
    t = step.term
    g = _gemm(t, s)
    if t.op == Op.MATMUL and t.args[1].type.rank > 2:
        batched.lower(k, step, args, g)
        return
    name = f"{k.function.name}.packed"
    ptr = k.base
    out, residual = ptr(step.out), (ptr(args[3].buf) if len(args) > 3 else None)
    bias = None
    if g.bias:
        padded = np.zeros(g.panels * g.nr, np.float32)
        padded[:g.n] = t.args[2].attr("ref").data
        bias = ptr(plan.add_param(f"{name}.bias", padded))
    if t.args[1].op != Op.PARAM:
        assert step.scratch is not None
        panels = ptr(step.scratch)
        dense = t.op != Op.MATMUL
        pack = lambda p0, p1: emit_pack_runtime(k, g, ptr(args[1].buf), g.k if dense else g.n,  # noqa: E731
                                                panels, p0, p1, transposed=dense)
    else:
        weights = t.args[1].attr("ref").data
        panels = ptr(plan.add_param(name, pack_panels(weights.T if t.op != Op.MATMUL else weights, g.nr)))
        pack = None
    emit_blocked(k, g, ptr(args[0].buf), g.k, panels, out, g.n, bias, residual, pack)
