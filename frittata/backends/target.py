"""What a compilation target is: one `Target` value, and a registry of them.

A target names everything the driver and `load` need to know about it, in one place:

    schedule()            the saturation phases its rules run in
    cost_model()          a fresh cost model pricing its e-nodes for extraction
    build(program, threads)   the extracted program lowered into a runnable module
    saved_kind            the "kind" its modules write into a saved file's metadata
    load(saved, threads)  a runnable module from such a file (`fileformat.Saved`)
    rule_params()         values of the rules' `$parameters` from its configuration (default none)
    configure(config)     the same target for another hardware configuration (None: it has none)
    config                that configuration as plain data (for the compile cache and reports)

The fields are functions, so a target can be defined, registered and looked up without
importing the stages it uses: loading a saved module needs only `load`, never the rewrites or
the extractor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from frittata.errors import FrittataError, ModuleFormatError

if TYPE_CHECKING:
    from frittata.backends.fileformat import Saved
    from frittata.backends.profile import Profile
    from frittata.extract.cost import CostModel
    import numpy as np

    from frittata.rewrites.schedule import Schedule
    from frittata.terms.dtypes import TensorType
    from frittata.terms.program import Program


class CompiledModule(Protocol):
    """What `build` and `load` return: named inputs and outputs, run, benchmark, profile (the
    measured time of each kernel), save (and `to_bytes`, the bytes `save` writes, which the
    compile cache stores; a user target's module may leave it out, and is then compiled again
    each time instead of cached), a report, and the program `compile` built it from (None when
    loaded)."""

    report: dict
    program: Program | None

    @property
    def inputs(self) -> Mapping[str, TensorType]: ...

    @property
    def outputs(self) -> Mapping[str, TensorType]: ...

    def run(self, **inputs: np.ndarray) -> dict[str, np.ndarray]: ...

    def benchmark(self, inputs: dict[str, np.ndarray], repeat: int = 20, warmup: int = 2) -> dict[str, float]: ...

    def profile(self, inputs: Mapping[str, np.ndarray], repeat: int = 10, warmup: int = 1) -> Profile: ...

    def save(self, path: str | Path) -> None: ...

    def to_bytes(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Target:
    """A compilation target: its schedule, cost model, build and loader (see the module doc)."""

    name: str
    saved_kind: str
    schedule: Callable[[], Schedule]
    cost_model: Callable[[], CostModel]
    build: Callable[[Program, int | None], CompiledModule]
    load: Callable[[Saved, int | None], CompiledModule]
    rule_params: Callable[[], Mapping[str, object]] = dict
    configure: Callable[[object], Target] | None = None
    config: Mapping[str, object] = field(default_factory=dict)

    def with_config(self, config: object) -> Target:
        """This target for the hardware configuration `config` (whatever its `configure` takes)."""
        if self.configure is None:
            raise FrittataError(f"target {self.name!r}: expected no hardware configuration (only "
                                f"targets with one, such as vta, take config=), got {config!r}")
        return self.configure(config)


class TargetRegistry:
    """Targets by name; each saved-file kind is loaded by exactly one of them. A `deferred` target
    is a function importing it, called the first time its name is asked for, a kind no loaded
    target reads, or a target is registered (every deferred one is imported then, so that kinds
    stay unique): loading an llvm module never imports the vta target (and its simulator)."""

    def __init__(self, targets: tuple[Target, ...] = (),
                 deferred: Mapping[str, Callable[[], Target]] | None = None) -> None:
        self._targets: dict[str, Target] = {}
        self._deferred: dict[str, Callable[[], Target]] = {}
        for target in targets:
            self.register(target)
        self._deferred = dict(deferred or {})

    def register(self, target: Target, replace: bool = False) -> None:
        """Add `target`; replacing a target of the same name needs `replace=True`."""
        self._import_deferred()
        if target.name in self._targets and not replace:
            raise FrittataError(f"targets: {target.name!r} is already registered; pass replace=True "
                                "to swap it")
        loader = self._by_kind(target.saved_kind)
        if loader is not None and loader.name != target.name:
            raise FrittataError(f"targets: {target.name!r}: expected a saved kind no other target "
                                f"loads, got {target.saved_kind!r} (loaded by {loader.name!r})")
        self._targets[target.name] = target

    def names(self) -> list[str]:
        return sorted({*self._targets, *self._deferred})

    def get(self, name: str) -> Target:
        """The target called `name`, or FrittataError naming the known ones."""
        if name in self._deferred:
            self._import_deferred()
        if name not in self._targets:
            raise FrittataError(f"targets: expected one of {self.names()}, got {name!r} "
                                "(register a new one with frittata.register_target)")
        return self._targets[name]

    def for_kind(self, kind: str, where: str) -> Target:
        """The target loading saved files of `kind` (read from the file at `where`)."""
        target = self._by_kind(kind)
        if target is None and self._deferred:
            self._import_deferred()
            target = self._by_kind(kind)
        if target is None:
            kinds = sorted(t.saved_kind for t in self._targets.values())
            raise ModuleFormatError(f"{where}: expected a saved module of kind {kinds}, got "
                                    f"{kind!r} (is its target registered?)")
        return target

    def _import_deferred(self) -> None:
        """Import every deferred target (a registered one of the same name stays)."""
        deferred, self._deferred = self._deferred, {}
        for name, importer in deferred.items():
            self._targets.setdefault(name, importer())

    def _by_kind(self, kind: str) -> Target | None:
        return next((t for t in self._targets.values() if t.saved_kind == kind), None)
