"""Progress output for long compiles: one tqdm bar that advances as each stage starts."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm import tqdm

STAGES = ("check-rules", "saturate", "extract", "fold", "build")


@contextmanager
def stage_progress(quiet: bool = False) -> Iterator[Callable[[str], None] | None]:
    """Yield a `progress(stage)` callback for `compile` (None when quiet); the bar goes to stderr."""
    if quiet:
        yield None
        return
    bar = tqdm(total=len(STAGES), desc="compile", unit="stage", file=sys.stderr, leave=False)
    started: list[str] = []

    def progress(stage: str) -> None:
        if started:
            bar.update(1)
        started.append(stage)
        bar.set_postfix_str(stage)

    try:
        yield progress
    finally:
        bar.update(len(STAGES) - bar.n)
        bar.close()
