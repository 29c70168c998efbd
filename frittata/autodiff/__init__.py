"""Training: reverse-mode differentiation of programs (`grad`), losses and optimizer steps.

Each op's vector-Jacobian product is a template in its table entry (`Op.vjp`); `grad` walks a
program's term DAG from the loss back to the parameters instantiating them, and the result is
an ordinary `Program` that the interpreter evaluates and `frittata.compile` compiles.
"""

from frittata.autodiff.check import check_gradients, to_float64
from frittata.autodiff.losses import batch_norm_train, log_softmax, mse, softmax_cross_entropy
from frittata.autodiff.reverse import GRAD_PREFIX, backprop, bind_params, grad, lift_params

__all__ = ["GRAD_PREFIX", "backprop", "batch_norm_train", "bind_params", "check_gradients", "grad", "lift_params",
           "log_softmax", "mse", "softmax_cross_entropy", "to_float64"]
