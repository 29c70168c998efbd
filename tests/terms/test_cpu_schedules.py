"""Which contractions the LLVM backend's blocked path takes, and with which default schedule."""

from frittata.terms.cpu_schedules import blocked_schedule, default_dense_schedule
from frittata.terms.dtypes import TensorType
from frittata.terms.ops import Op


def f32(*shape: int) -> TensorType:
    return TensorType(shape, "float32")


def test_a_matmul_takes_the_blocked_path_with_matrix_or_batched_weights_only():
    """[M, K] x [K, N] and batched [B, M, K] x [B, K, N] are GEMMs (the default dense blocking
    of M x N); a vector right operand or a batch broadcast against unbatched weights is not."""
    lanes = 8
    assert blocked_schedule(Op.MATMUL, (), f32(20, 24), [f32(20, 16), f32(16, 24)], [False, True],
                            lanes) == default_dense_schedule(20, 24, lanes)
    assert blocked_schedule(Op.MATMUL, (), f32(3, 20, 24), [f32(3, 20, 16), f32(3, 16, 24)], [False, False],
                            lanes) == default_dense_schedule(60, 24, lanes)
    assert blocked_schedule(Op.MATMUL, (), f32(20), [f32(20, 16), f32(16)], [False, True], lanes) is None
    assert blocked_schedule(Op.MATMUL, (), f32(3, 20, 24), [f32(3, 20, 16), f32(1, 16, 24)], [False, True],
                            lanes) is None
