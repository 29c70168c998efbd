"""Write rewrite rules as data, property-check them, and watch one fire during compile.

clip(relu(x), lo, hi) == clip(x, lo, hi) holds only when lo >= 0. The first version below
forgets that; `check_rule` finds a counterexample, and `compile` (which checks user rules before
it applies them) refuses it. The second pins lo to 0 and passes.
"""

import numpy as np

import frittata as ft
from frittata import terms as T
from frittata.rewrites import check_rule, parse_rules

UNSOUND = "(rule simplify-clip-relu (clip (relu ?x) :lo ?lo :hi ?hi) => (clip ?x :lo ?lo :hi ?hi) :family mine)"
SOUND = """
(family mine)
(rule simplify-clip0-relu (clip (relu ?x) :lo 0.0 :hi ?hi) => (clip ?x :lo 0.0 :hi ?hi))
"""

for text, expect in ((UNSOUND, False), (SOUND, True)):
    for rule in parse_rules(text, "<example>"):
        result = check_rule(rule)
        print(result.line())
        assert result.passed is expect

x = T.var("x", (1, 64))
w = T.param("w", np.random.default_rng(0).standard_normal((32, 64)).astype(np.float32))
program = ft.Program({"y": T.clip(T.relu(T.dense(x, w)), 0.0, 6.0)})
try:
    ft.compile(program, rules=[UNSOUND])
    raise AssertionError("compile applied an unsound rule")
except ft.RuleCheckError as error:
    print("compile refused the unsound rule:", str(error)[:120], "...")
module = ft.compile(program, rules=[SOUND])
fired = module.report["stages"]["saturate"]["fired"]
print("fired:", fired)
assert fired.get("simplify-clip0-relu", 0) >= 1

inputs = {"x": np.random.default_rng(1).standard_normal((1, 64)).astype(np.float32)}
np.testing.assert_allclose(module.run(**inputs)["y"], ft.evaluate(program, inputs)["y"], rtol=1e-5, atol=1e-5)
print("compiled output equals the interpreter's")
