"""The targets `compile` knows, and `load`, which reads a saved module with its target's loader.

"llvm" and "vta" are built in (vta is imported when first asked for: by its name, by a file no
other target reads, or by `register_target`); `register_target` adds a user's `Target` (or, with
`replace=True`, swaps one). The registry is process-wide, like an import: register a target
before compiling for it or loading its files.
"""

from __future__ import annotations

from pathlib import Path

from frittata.backends import fileformat
from frittata.backends.llvm.target import LLVM, for_machine
from frittata.backends.target import CompiledModule, Target, TargetRegistry


def _vta() -> Target:
    from frittata.backends.vta.target import VTA

    return VTA


TARGETS = TargetRegistry((LLVM,), deferred={"vta": _vta})


def get_target(name: str) -> Target:
    """The registered target called `name`, or the llvm target for the machine a target string
    names ("llvm -mtriple=... -mcpu=... -mattr=..."); FrittataError naming the known ones otherwise."""
    if name.startswith("llvm "):
        return for_machine(name)
    return TARGETS.get(name)


def register_target(target: Target, replace: bool = False) -> None:
    """Make `target` available to `compile(..., target=target.name)` and its files to `load`."""
    TARGETS.register(target, replace)


def target_names() -> list[str]:
    return TARGETS.names()


def load(path: str | Path, threads: int | None = None) -> CompiledModule:
    """The module saved at `path`, read by the loader of the target whose kind the file records
    (files written before kinds were recorded are llvm modules). A truncated or altered file
    raises ModuleFormatError."""
    saved = fileformat.decode(fileformat.read_aligned(path), str(path))
    kind = saved.meta.get("kind", LLVM.saved_kind)
    return TARGETS.for_kind(kind, str(path)).load(saved, threads)
