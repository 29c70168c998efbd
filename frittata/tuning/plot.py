"""Tuning curves: best GFLOP/s found against trials, one line per search, as PNG or SVG."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from frittata.errors import TuningError
from frittata.tuning.tuner import TuneReport

FORMATS = (".png", ".svg")


def report_curve(report: TuneReport) -> list[float]:
    """Best GFLOP/s against the run's trials for its costliest task (the first in the report)."""
    return list(report.tasks[0].curve) if report.tasks else []


def plot_curves(runs: Mapping[str, TuneReport | Sequence[float]], path: str | Path, title: str = "",
                ylabel: str = "best GFLOP/s",
                bands: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None) -> None:
    """Draw each run's curve (a report's first task, or the values given) into `path`; a run
    named in `bands` also gets its (low, high) values shaded (a spread over seeds, say)."""
    if Path(path).suffix not in FORMATS:
        raise TuningError(f"plot: expected a path ending in {FORMATS}, got {str(path)!r}")
    try:
        import matplotlib
    except ImportError:
        raise TuningError("plot: expected matplotlib, got none installed (pip install 'frittata[plot]')") from None
    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(6, 4))
    for name, run in runs.items():
        curve = report_curve(run) if isinstance(run, TuneReport) else list(run)
        (line,) = axes.plot(range(1, len(curve) + 1), curve, label=name, drawstyle="steps-post")
        if bands and name in bands:
            low, high = bands[name]
            axes.fill_between(range(1, len(low) + 1), low, high, step="post", alpha=0.2, color=line.get_color())
    if not title:
        first = next(iter(runs.values()), None)
        title = str(first.tasks[0].task) if isinstance(first, TuneReport) and first.tasks else "tuning"
    axes.set(xlabel="trials", ylabel=ylabel, title=title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)
