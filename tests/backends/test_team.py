"""The thread team: a run whose wait is interrupted does not let the next run return early."""

from __future__ import annotations

import threading
import time

import pytest

from frittata.backends.team import Team, barrier_state


def test_a_run_after_an_interrupted_one_waits_for_its_own_helpers():
    """Run 1's thread 0 raises at once while its two helpers still work (as a KeyboardInterrupt
    in its wait would leave them); run 2 returns only after both helpers ran run 2, not on the
    tokens run 1's helpers leave behind."""
    log: list[tuple[str, int]] = []
    lock = threading.Lock()

    def first(slots, tid, n, barrier):
        if tid == 0:
            raise KeyboardInterrupt
        time.sleep(0.2)

    def second(slots, tid, n, barrier):
        time.sleep(0.05 if tid else 0.0)
        with lock:
            log.append(("second", tid))

    team = Team(first, 3)
    with pytest.raises(KeyboardInterrupt):
        team.run(0, 0)
    team.run(0, 0, entry=second)
    assert sorted(log) == [("second", 0), ("second", 1), ("second", 2)]
    team.close()


def test_the_team_state_is_aligned_and_zeroed():
    """The 64-bit work word at int32 word 2 needs 8-byte alignment (an int32 array promises 4)."""
    state = barrier_state()
    assert state.ctypes.data % 8 == 0 and not state.any()
