"""The Winograd cost model's share of transformed tile blocks per core: the static contiguous
shares `blocks_started` assumes, checked by hand (the kernel takes dynamic chunks from the work
counter, which the model approximates by these shares; see its docstring)."""

import pytest

from frittata.extract.winograd_cost import blocks_started


def _by_hand(blocks: int, groups: int, cores: int) -> int:
    """The blocks x groups items split into contiguous block-major shares; a core transforms
    every block one of its items belongs to: the most distinct blocks any share touches."""
    items = blocks * groups
    shares = [range(items * t // cores, items * (t + 1) // cores) for t in range(cores)]
    return max(len({i // groups for i in share}) for share in shares)


@pytest.mark.parametrize("cores", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("groups", [1, 2, 3, 4])
@pytest.mark.parametrize("blocks", [1, 2, 5, 7, 16])
def test_blocks_started_counts_the_blocks_of_the_largest_share(blocks, groups, cores):
    assert blocks_started(blocks, groups, cores) == _by_hand(blocks, groups, cores)
