"""The CPU kernels a contraction's schedule names (`cpu_schedules.blocked_schedule`), in a module
of their own so that the schedule modules of one kernel (`depthwise_schedules`) and the module
that chooses among them (`cpu_schedules`) read the names from one place."""

from __future__ import annotations

from typing import Any, Literal, get_args

Schedule = dict[str, Any]
BlockedKernel = Literal["blocked", "depthwise", "pixel_gemm", "winograd", "int8", "lanes_conv", "channel_gemm",
                        "int8_winograd"]
"""The kernels a `blocked_schedule` runs: the blocked GEMM / direct convolution ("blocked": a
schedule without a "kernel" key, the tiled ops' vocabulary), or the kernel its "kernel" key names."""


BLOCKED, DEPTHWISE, PIXEL_GEMM, WINOGRAD, INT8, LANES_CONV, CHANNEL_GEMM, INT8_WINOGRAD = get_args(BlockedKernel)
"""The kernel names, each spelled once: in `BlockedKernel`."""
