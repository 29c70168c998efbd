"""The micro-kernel's text memo is keyed by what the text depends on, exactly.

Equal Python values can emit different text: -0.0 == 0.0 (and they hash alike), yet a clip
bound of either is its own constant in the IR; a key that held a NaN bound would be unequal to
itself. The memo outlives every compile of the process, so a key that confused two specs would
hand one program the other's kernel. (Terms intern -0.0 and 0.0 as one while both live, so the
confusion shows across compiles whose terms did not live together.)
"""

from __future__ import annotations

import pytest

from frittata.backends.jit import host
from frittata.backends.llvm.conv import TapGroup, TapLoop
from frittata.backends.llvm.micro import PANEL_LOOP, MicroSpec, _exact, _micro_text

MINUS_ZERO = "0x8000000000000000"
"""-0.0 as an LLVM float constant."""


def _text(steps, loop=PANEL_LOOP) -> str:
    return _micro_text(MicroSpec(4, 8, 2, "col", steps), loop, host().triple)[0]


def test_a_bound_of_minus_zero_gets_its_own_text():
    plus, minus = _text((("clip", 0.0, 6.0),)), _text((("clip", -0.0, 6.0),))
    assert MINUS_ZERO in minus and MINUS_ZERO not in plus


def test_equal_specs_share_one_text_and_a_nan_bound_is_found_again():
    steps = (("clip", float("nan"), 6.0),)
    first = _micro_text(MicroSpec(4, 8, 2, "col", steps), PANEL_LOOP, host().triple)
    again = _micro_text(MicroSpec(4, 8, 2, "col", (("clip", float("nan"), 6.0),)), PANEL_LOOP, host().triple)
    assert again is first


def test_the_accumulation_loop_is_part_of_the_key():
    one_tap, two_taps = _taps(((0, 0),)), _taps(((0, 0), (1, 1)))
    assert _text((), one_tap) != _text((), two_taps)
    assert _text((), _taps(((0, 0),))) is _text((), one_tap)
    assert _text((), TapLoop((TapGroup(3, 2, 40, ((0, 0),)),), 4)) != _text((), one_tap)


def _taps(taps) -> TapLoop:
    return TapLoop((TapGroup(1, 0, 0, taps),), 4)


def test_a_mutable_part_is_refused():
    with pytest.raises(TypeError, match="frozen dataclasses"):
        _exact((MicroSpec(4, 8, 2, None, ()), [1, 2]))
