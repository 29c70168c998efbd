"""The Python builder API: one function per operator, named like the operator.

Each builder lives beside its operator's definition in the module of its family; this module
gathers them. Builders normalize attributes (ints to tuples, negative axes to positive) through
the op's attribute schema and build an interned `Term`, whose type is inferred on the spot.
`repr` of any term is a call of these builders, so `eval(repr(t), vars(frittata.terms))`
rebuilds it. Python numbers mixed with terms become `const` leaves of the term's dtype.
"""

from frittata.terms import (activations, arg_reductions, bitserial, broadcast_ops, comparisons, contractions,
                            conversions, elementwise, fused, indexing, kernels, leaves, movement_ops, normalization,
                            pooling, reductions, smooth_activations, softmax_fused, tiled, unary, vta_ops, winograd)
from frittata.terms.activations import *  # noqa: F403
from frittata.terms.arg_reductions import *  # noqa: F403
from frittata.terms.bitserial import *  # noqa: F403
from frittata.terms.broadcast_ops import *  # noqa: F403
from frittata.terms.comparisons import *  # noqa: F403
from frittata.terms.contractions import *  # noqa: F403
from frittata.terms.conversions import *  # noqa: F403
from frittata.terms.elementwise import *  # noqa: F403
from frittata.terms.fused import *  # noqa: F403
from frittata.terms.softmax_fused import *  # noqa: F403
from frittata.terms.indexing import *  # noqa: F403
from frittata.terms.kernels import *  # noqa: F403
from frittata.terms.leaves import *  # noqa: F403
from frittata.terms.movement_ops import *  # noqa: F403
from frittata.terms.normalization import *  # noqa: F403
from frittata.terms.pooling import *  # noqa: F403
from frittata.terms.reductions import *  # noqa: F403
from frittata.terms.smooth_activations import *  # noqa: F403
from frittata.terms.tiled import *  # noqa: F403
from frittata.terms.unary import *  # noqa: F403
from frittata.terms.vta_ops import *  # noqa: F403
from frittata.terms.winograd import *  # noqa: F403

FAMILIES = (leaves, elementwise, unary, activations, smooth_activations, comparisons, conversions, contractions,
            pooling, normalization, reductions, arg_reductions, movement_ops, indexing, broadcast_ops, kernels, fused,
            softmax_fused, tiled, winograd, vta_ops, bitserial)
"""Every op family module, in registration order."""

__all__: list[str] = []
for _family in FAMILIES:
    __all__ += _family.__all__
