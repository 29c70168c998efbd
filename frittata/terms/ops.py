"""The closed set of operators of the term language.

Each member's value is its name in rule files, ONNX-import reports and `repr`. Semantics live in
the builders (`frittata.terms.builders`), type rules in `frittata.terms.infer`, and meaning in the
reference interpreter (`frittata.terms.interp`).
"""

from __future__ import annotations

import enum


class Op(enum.Enum):
    # leaves
    INPUT = "input"
    PARAM = "param"
    CONST = "const"
    # elementwise binary (numpy broadcasting, equal dtypes)
    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    DIV = "div"
    POW = "pow"
    MAXIMUM = "maximum"
    MINIMUM = "minimum"
    # elementwise unary
    NEG = "neg"
    ABS = "abs"
    EXP = "exp"
    LOG = "log"
    SQRT = "sqrt"
    ERF = "erf"
    TANH = "tanh"
    SIGMOID = "sigmoid"
    RELU = "relu"
    LEAKY_RELU = "leaky_relu"
    GELU = "gelu"
    CLIP = "clip"
    CAST = "cast"
    RIGHT_SHIFT = "right_shift"
    ROUND = "round"
    # elementwise ternary
    WHERE = "where"
    # contractions
    MATMUL = "matmul"
    DENSE = "dense"
    CONV2D = "conv2d"
    # pooling and normalization
    MAX_POOL2D = "max_pool2d"
    AVG_POOL2D = "avg_pool2d"
    GLOBAL_AVG_POOL = "global_avg_pool"
    BATCH_NORM = "batch_norm"
    LAYER_NORM = "layer_norm"
    SOFTMAX = "softmax"
    # reductions
    REDUCE_SUM = "reduce_sum"
    REDUCE_MEAN = "reduce_mean"
    REDUCE_MAX = "reduce_max"
    # data movement
    RESHAPE = "reshape"
    TRANSPOSE = "transpose"
    CONCAT = "concat"
    SLICE = "slice"
    PAD = "pad"
    GATHER = "gather"
    # kernel ops: fused contractions with an epilogue, blocked layouts (see frittata.terms.kernels)
    FUSED_CONV2D = "fused_conv2d"
    FUSED_DENSE = "fused_dense"
    PACK_NCHWC = "pack_nchwc"
    UNPACK_NCHWC = "unpack_nchwc"
    FUSED_ELEMENTWISE = "fused_elementwise"
    # tiled kernel ops: a fused contraction plus its CPU loop schedule (see frittata.terms.tiled)
    TILED_CONV2D = "tiled_conv2d"
    TILED_DENSE = "tiled_dense"
    # VTA kernel ops: blocked layouts and GEMM tiles of the accelerator (see frittata.terms.vta_ops)
    VTA_PACK = "vta_pack"
    VTA_UNPACK = "vta_unpack"
    VTA_DENSE = "vta_dense"
    VTA_CONV2D = "vta_conv2d"


UNARY = frozenset(
    {Op.NEG, Op.ABS, Op.EXP, Op.LOG, Op.SQRT, Op.ERF, Op.TANH, Op.SIGMOID, Op.RELU,
     Op.LEAKY_RELU, Op.GELU, Op.CLIP, Op.CAST, Op.RIGHT_SHIFT, Op.ROUND}
)
BINARY = frozenset({Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.POW, Op.MAXIMUM, Op.MINIMUM})
ELEMENTWISE = UNARY | BINARY | {Op.WHERE}
REDUCTIONS = frozenset({Op.REDUCE_SUM, Op.REDUCE_MEAN, Op.REDUCE_MAX})
VTA = frozenset({Op.VTA_PACK, Op.VTA_UNPACK, Op.VTA_DENSE, Op.VTA_CONV2D})
TILED = frozenset({Op.TILED_CONV2D, Op.TILED_DENSE})
KERNELS = frozenset({Op.FUSED_CONV2D, Op.FUSED_DENSE, Op.PACK_NCHWC, Op.UNPACK_NCHWC,
                     Op.FUSED_ELEMENTWISE}) | VTA | TILED
LEAVES = frozenset({Op.INPUT, Op.PARAM, Op.CONST})

BY_NAME = {op.value: op for op in Op}
