"""User rules passed to compile are property-checked first: an unsound one is refused with its
counterexample and never applied, a sound one compiles (and matches the interpreter), a rule
that passed is remembered in the cache folder, and check_rules=False trusts the rules as given."""

import numpy as np
import pytest

import frittata as ft
from frittata import terms as T
from frittata.rewrites.rule_format import parse_rules
from frittata.rewrites.user_check import check_user_rules, rule_key

UNSOUND = "(rule bad (relu ?x) => (neg ?x) :family mine)"
SOUND = "(rule mine-clip0-relu (clip (relu ?x) :lo 0.0 :hi ?hi) => (clip ?x :lo 0.0 :hi ?hi) :family mine)"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FRITTATA_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("FRITTATA_CACHE", raising=False)
    return tmp_path / "checked-rules"


def _program(rows: int = 2) -> ft.Program:
    return ft.Program({"y": T.clip(T.relu(T.tanh(T.var("x", (rows, 8)))), 0.0, 0.5)})


def _inputs() -> dict[str, np.ndarray]:
    return {"x": np.random.default_rng(3).standard_normal((2, 8)).astype(np.float32)}


def test_an_unsound_rule_is_refused_with_its_counterexample(cache):
    with pytest.raises(ft.RuleCheckError) as error:
        ft.compile(_program(), rules=[UNSOUND])
    text = str(error.value)
    assert text.startswith("rule bad (<string>:1:1): expected a rule that agrees with the interpreter")
    assert "counterexample: lhs = relu(" in text and "rhs = neg(" in text
    assert "inputs {" in text and ": lhs " in text and ", rhs " in text and "check_rules=False" in text
    assert isinstance(error.value, ft.RewriteError) and not cache.exists()


def test_the_counterexample_shows_the_inputs_and_both_outputs():
    with pytest.raises(ft.RuleCheckError) as error:
        check_user_rules(["(rule bad-sub-comm (sub ?a ?b) => (sub ?b ?a) :family m)"])
    text = str(error.value)
    assert "rule bad-sub-comm" in text and "inputs {'a': " in text, text
    assert "outputs: lhs [" in text or ("at index (" in text and " giving " in text), text


def test_a_sound_rule_compiles_and_is_checked_once(cache):
    first = ft.compile(_program(), rules=[SOUND])
    stage = first.report["stages"]["check-rules"]
    assert (stage["checked"], stage["remembered"]) == (1, 0) and set(stage) == {"checked", "remembered", "seconds",
                                                                               "cpu_seconds"}
    assert first.report["stages"]["saturate"]["fired"].get("mine-clip0-relu", 0) >= 1
    np.testing.assert_allclose(first.run(**_inputs())["y"], ft.evaluate(_program(), _inputs())["y"],
                               rtol=1e-5, atol=1e-6)
    assert len(list(cache.iterdir())) == 1
    second = ft.compile(_program(rows=3), rules=[SOUND])  # another program: the compile cache misses
    stage = second.report["stages"]["check-rules"]
    assert (stage["checked"], stage["remembered"]) == (0, 1)


def test_the_cache_key_is_the_rules_content_not_its_name_or_place():
    (a,) = parse_rules(SOUND, "a.rules")
    (b,) = parse_rules(SOUND.replace("mine-clip0-relu", "other-name"), "b.rules")
    (c,) = parse_rules(SOUND.replace("=> (clip ?x :lo 0.0", "=> (clip ?x :lo 0.5"), "a.rules")
    assert rule_key(a, True) == rule_key(b, True) != rule_key(c, True)
    assert rule_key(a, True) != rule_key(a, False)


def test_rules_are_checked_every_time_with_the_cache_off(cache, monkeypatch):
    monkeypatch.setenv("FRITTATA_CACHE", "0")
    for _ in range(2):
        assert check_user_rules([SOUND], cache=None).summary() == {"checked": 1, "remembered": 0}
    assert not cache.exists()


def test_check_rules_false_trusts_the_rules_unchecked(cache):
    module = ft.compile(_program(), rules=[UNSOUND], check_rules=False)
    assert "check-rules" not in module.report["stages"]
    assert module.report["stages"]["saturate"]["fired"].get("bad", 0) >= 1  # applied: the user's word
    assert not cache.exists()


def test_a_cache_that_cannot_be_written_warns_and_the_rule_still_passes(tmp_path):
    blocked = tmp_path / "checked-rules"
    blocked.write_text("a file where the cache folder should be")
    with pytest.warns(UserWarning, match=r"cannot write the cache entry .*checked again next time"):
        assert check_user_rules([SOUND], cache=blocked).summary() == {"checked": 1, "remembered": 0}
