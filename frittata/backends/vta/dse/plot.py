"""The Pareto plot of an exploration: latency against area (mean DSP / LUT / BRAM utilization),
every design a dot coloured by its MACs per cycle, the front joined, baseline and best marked;
beside it, latency against block-RAM use."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from frittata.errors import FrittataError

if TYPE_CHECKING:
    from frittata.backends.vta.dse.explore import Exploration

FORMATS = (".png", ".svg")


def plot_pareto(found: Exploration, path: Path) -> None:
    """Draw `found` into `path` (.png or .svg)."""
    if path.suffix not in FORMATS:
        raise FrittataError(f"plot: expected a path ending in {FORMATS}, got {str(path)!r}")
    try:
        import matplotlib
    except ImportError:
        raise FrittataError("plot: expected matplotlib, got none installed (pip install 'frittata[plot]')") from None
    matplotlib.use("Agg")
    from matplotlib import pyplot

    results, front = found.results, found.pareto
    macs = [r.config["LOG_BATCH"] + 2 * r.config["LOG_BLOCK"] for r in results]
    latency = [r.latency_s * 1e3 for r in results]
    figure, (left, right) = pyplot.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    dots = left.scatter([r.area * 100 for r in results], latency, c=macs, cmap="viridis", s=14, alpha=0.7)
    steps = sorted(front, key=lambda r: r.area)  # the best latency reachable within each area
    left.plot([r.area * 100 for r in steps], [r.latency_s * 1e3 for r in steps], "r-", lw=1.2,
              drawstyle="steps-post", label="Pareto front")
    right.scatter([r.utilization["bram18"] * 100 for r in results], latency, c=macs, cmap="viridis", s=14, alpha=0.7)
    for axes, x in ((left, lambda r: r.area * 100), (right, lambda r: r.utilization["bram18"] * 100)):
        for r, marker, name in ((found.baseline, "s", "baseline"), (found.best, "*", "best")):
            axes.scatter([x(r)], [r.latency_s * 1e3], marker=marker, s=120, edgecolors="k", facecolors="none",
                         label=f"{name} {r.design}")
        axes.grid(alpha=0.3)
    left.set(xlabel="area: mean DSP / LUT / BRAM utilization (%)", ylabel=f"{found.workload} latency (ms)",
             yscale="log")
    right.set(xlabel="block RAM utilization (%)")
    left.legend(fontsize=7)
    figure.colorbar(dots, ax=right, label="log2 MACs per cycle")
    figure.suptitle(f"VTA designs for {found.workload} on {found.part.name} ({found.part.chip}): "
                    f"{len(results)} evaluated, best {found.speedup:.2f}x the baseline")
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)
