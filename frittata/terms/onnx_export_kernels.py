"""Kernel ops for ONNX export: each is its expansion into the graph-level terms it means.

The expansions live beside the kernel ops' definitions (`Op.expand`); `expand_kernel` is the
name the VTA build uses to run a kernel op's expansion on the host.
"""

from __future__ import annotations

from frittata.terms.expansion import expand as expand_kernel

__all__ = ["expand_kernel"]
