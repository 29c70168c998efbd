"""User rules are property-checked before compile trusts them.

An unsound rule poisons the whole e-graph, so every rule a user passes to `compile` (as text or
files) is checked like the library's (`check.check_rule`, against the reference interpreter on
random instances, kernel right sides also compiled and run), with `EXAMPLES` meaningful
instances per dtype variant.
A rule that fails raises `RuleCheckError` carrying the counterexample, before saturation
starts, so it is never applied. A rule that passes is remembered in the cache folder under a
hash of its content (its patterns, guards and target: not its name or file, which do not change
its meaning) and of what checked it, so the cost is paid once per rule and frittata version.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from frittata.errors import RuleCheckError
from frittata.rewrites.check import Runners, check_rule
from frittata.rewrites.library import Params, Source, load_source
from frittata.rewrites.rule_format import Rule

EXAMPLES = 12
"""Meaningful instances per dtype variant, as for the library. Interpreter instances cost
milliseconds (the compiled ones, at most `check.FORMS`, are the cost); with 4, the example rule
clip(relu(x), lo, hi) => clip(x, lo, hi) passed, its counterexample (lo < 0) first drawn at 6."""


@dataclass
class UserCheckReport:
    """Which one-way rules were checked now and which were found in the cache."""

    checked: list[str] = field(default_factory=list)
    remembered: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        return {"checked": len(self.checked), "remembered": len(self.remembered)}


def check_user_rules(sources: Iterable[Source], params: Params = None, cache: Path | None = None,
                     compiled: Runners | None = None) -> UserCheckReport:
    """Check every rule of `sources` (both directions of a `<=>` rule); raise `RuleCheckError`
    on the first that fails. `cache` is the folder of remembered rules (None: remember nothing);
    `compiled` runners also compile kernel right sides, as `frittata rules check` does."""
    report = UserCheckReport()
    for rule in (d for s in sources for r in load_source(s, params) for d in r.directions()):
        key = rule_key(rule, compiled is not None)
        if cache is not None and (cache / key).exists():
            report.remembered.append(rule.name)
            continue
        result = check_rule(rule, EXAMPLES, compiled=compiled)
        if not result.passed:
            raise RuleCheckError(
                f"rule {rule.name} ({rule.where}): expected a rule that agrees with the interpreter, "
                f"got {result.failure}. It was not applied; fix it, or pass check_rules=False "
                f"(--no-check-rules) if it was checked another way")
        report.checked.append(rule.name)
        if cache is not None:
            _remember(cache, key)
    return report


def rule_key(rule: Rule, compiled: bool) -> str:
    """A hash of what the rule means and of the checker that passed it."""
    content = repr((rule.lhs, rule.rhs, rule.guards, rule.target))
    checker = f"frittata {version('frittata')} examples {EXAMPLES} compiled {compiled}"
    return hashlib.sha256(f"{content}\0{checker}".encode()).hexdigest()


def _remember(cache: Path, key: str) -> None:
    try:
        cache.mkdir(parents=True, exist_ok=True)
        (cache / key).touch()
    except OSError as err:
        warnings.warn(f"checked rules: cannot write the cache entry {cache / key} ({err.strerror}); "
                      f"the rule will be checked again next time", stacklevel=3)
