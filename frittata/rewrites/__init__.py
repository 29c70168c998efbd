"""Rewrites: the rule library as data, bounded equality saturation on egglog, rule checking.

The driver calls `saturate(program, rules=..., disable=..., schedule=..., limits=...)`, which
returns the saturated e-graph as `EGraphData` and a `SaturationReport`; an extractor picks one
e-node per e-class, `EGraphData.to_program(choice)` rebuilds the program, and `fold_params`
evaluates the parameter arithmetic that folding rules introduced.
"""

from frittata.rewrites.check import check_rule, rules_check_main
from frittata.rewrites.data import EClass, EGraphData, ENode
from frittata.rewrites.extractors import original_choice, smallest_choice
from frittata.rewrites.fold import fold_params
from frittata.rewrites.library import library_rules, select_rules
from frittata.rewrites.rule_format import Rule, parse_rules
from frittata.rewrites.schedule import (DEFAULT_SCHEDULE, Limits, Phase, PhaseReport, SaturationReport,
                                        saturate)

__all__ = [
    "DEFAULT_SCHEDULE", "EClass", "EGraphData", "ENode", "Limits", "Phase", "PhaseReport", "Rule",
    "SaturationReport", "check_rule", "fold_params", "library_rules", "original_choice",
    "parse_rules", "rules_check_main", "saturate", "select_rules", "smallest_choice",
]
