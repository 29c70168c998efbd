"""Small programs with one schedulable convolution, shared by the tuning tests."""

from __future__ import annotations

import numpy as np

import frittata as ft
from frittata import terms as T
from frittata.extract.records import Workload
from frittata.terms.tiled import KEYS


def conv_program(channels: int = 16, out_channels: int = 32, size: int = 12) -> ft.Program:
    """relu(conv2d(x, w) + b): fused and tiled by the rules into one schedulable kernel."""
    rng = np.random.default_rng(0)
    w = T.param("w", (rng.standard_normal((out_channels, channels, 3, 3)) * 0.1).astype(np.float32))
    b = T.param("b", rng.standard_normal(out_channels).astype(np.float32))
    x = T.var("x", (1, channels, size, size))
    return ft.Program({"y": T.relu(T.add(T.conv2d(x, w, pads=(1, 1, 1, 1)), T.reshape(b, (1, out_channels, 1, 1))))})


def conv_workload(channels: int = 16, out_channels: int = 32, size: int = 12) -> Workload:
    attrs = (("strides", (1, 1)), ("pads", (1, 1, 1, 1)), ("dilations", (1, 1)), ("groups", 1),
             ("epilogue", (("relu",),)))
    operands = (((1, channels, size, size), "float32"), ((out_channels, channels, 3, 3), "float32"),
                ((out_channels,), "float32"))
    return Workload("fused_conv2d", operands, (False, True, True), attrs)


def conv_schedule(oc: int, nv: int, cb: int, parallel: str = "oc", out_channels: int = 32, size: int = 12,
                  channels: int = 16, lanes: int = 8) -> tuple:
    values = {"vec": lanes, "oc_block": oc, "oc_tail": out_channels % oc, "ow_block": nv * lanes,
              "ow_tail": size % (nv * lanes), "c_block": cb, "c_tail": channels % cb, "parallel": parallel}
    return tuple((k, values[k]) for k in KEYS["tiled_conv2d"])
