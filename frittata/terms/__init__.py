"""The term IR: immutable typed terms, programs, builders and the reference interpreter.

Importing this package registers every op family in the operator table (`frittata.terms.ops`)
and then seals it. `repr` of a term evaluates back to the term in this namespace (`np`
included for parameters).
"""

import numpy as np  # noqa: F401 - `repr` of parameters refers to np

from frittata.terms import ops
from frittata.terms.builders import *  # noqa: F401,F403 - the builder API is the package API
from frittata.terms.dtypes import DTYPES, TensorType
from frittata.terms.interp import check_inputs, evaluate
from frittata.terms.ops import Op, OpDef, ops_in_class
from frittata.terms.program import Program
from frittata.terms.term import ParamRef, Term, postorder

ops.seal()
