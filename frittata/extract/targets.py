"""Which cost model prices which target: the one place a backend plugs its model in.

`cost_model_for("llvm")` is the analytical CPU model, with the host's vector width. A backend whose
model lives on its side of the pipeline (the VTA cycle model is in `frittata.backends.vta`) registers a factory with
`register_cost_model`, because `extract` may not import from later stages; until it does,
asking for that target raises an `ExtractionError` that says which targets have models.
"""

from __future__ import annotations

from collections.abc import Callable

from frittata.errors import ExtractionError
from frittata.extract.cost import CostModel
from frittata.extract.cpu_model import CpuModel

Factory = Callable[[], CostModel]


class CostModelRegistry:
    """Target name -> factory of its cost model. Registering a name twice needs `replace`."""

    def __init__(self, builtin: dict[str, Factory]) -> None:
        self._factories = dict(builtin)

    def register(self, target: str, factory: Factory, replace: bool = False) -> None:
        """Make `factory()` the cost model of `target`."""
        if target in self._factories and not replace:
            raise ExtractionError(f"cost models: target {target!r} already has a model; "
                                  f"pass replace=True to swap it")
        self._factories[target] = factory

    def targets(self) -> list[str]:
        return sorted(self._factories)

    def model_for(self, target: str) -> CostModel:
        """A fresh cost model for `target`, or ExtractionError listing the known targets."""
        if target not in self._factories:
            raise ExtractionError(f"cost models: expected a target in {self.targets()}, got {target!r} "
                                  f"(a backend registers its model with register_cost_model)")
        return self._factories[target]()


REGISTRY = CostModelRegistry({"llvm": CpuModel.for_host})
"""The process-wide registry; backends add their targets at import time."""


def cost_model_for(target: str) -> CostModel:
    """The cost model of `target` ("llvm" is built in)."""
    return REGISTRY.model_for(target)


def register_cost_model(target: str, factory: Factory, replace: bool = False) -> None:
    """Register `factory` (called with no arguments) as the cost model of `target`."""
    REGISTRY.register(target, factory, replace)
