"""The builder kit VJP templates are written in: every term builder, plus gradient helpers.

An op's `vjp` receives this module as `b`, so a template in a family module builds any op
(`b.mul`, `b.reduce_sum`, ...) without importing the other families. Beside the builders the
kit has the shared adjoints (`sum_to`, `unreduce`, `unslice`, `zeros`, `constant`,
`not_differentiable`) and the window ops' VJPs, which are longer than a template should be.
"""

from frittata.autodiff.adjoints import constant, not_differentiable, sum_to, unreduce, unslice, zeros
from frittata.autodiff.indexing_vjps import gather_elements_vjp, gather_nd_vjp, scatter_vjp, take_vjp
from frittata.autodiff.windows import avg_pool2d_vjp, conv2d_vjp, max_pool2d_vjp
from frittata.terms.builders import *  # noqa: F403 - the kit is every builder

__all__ = ["constant", "not_differentiable", "sum_to", "unreduce", "unslice", "zeros", "avg_pool2d_vjp",
           "conv2d_vjp", "max_pool2d_vjp", "gather_elements_vjp", "gather_nd_vjp",
           "scatter_vjp", "take_vjp"]
