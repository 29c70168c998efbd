"""torchvision architectures exported as users export them (`frittata.terms.torchvision_export`,
which the benches share; needs torch and torchvision)."""

from __future__ import annotations

from frittata.terms.torchvision_export import SMALL, export, randomized

__all__ = ["SMALL", "export", "randomized"]
