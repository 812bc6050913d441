"""The thin-matmul pass computes the same products, transposed only where that is fast."""
from __future__ import annotations

import pytest
import torch
from torch.fx.experimental.proxy_tensor import make_fx

from iql_lib.training.thin_matmuls import ThinMatmulsTransposed, is_thin

aten = torch.ops.aten


def traced_bmm(a: torch.Tensor, b: torch.Tensor) -> torch.fx.GraphModule:
    return make_fx(lambda x, y: torch.bmm(x, y).relu(), tracing_mode="fake")(a, b)


def bmm_operand_shapes(gm: torch.fx.GraphModule) -> list[tuple]:
    return [tuple(tuple(arg.meta["val"].shape) for arg in node.args)
            for node in gm.graph.nodes if node.target is aten.bmm.default]


@pytest.mark.parametrize("m, k, n, thin", [
    (256, 64, 5, True),    # a Q-network's last layer (PointMass: 5 actions)
    (64, 256, 2, True),    # weight gradient of a layer fed 2-D observations
    (256, 256, 37, True),  # weight gradient of an AntMaze Q-network's first layer
    (256, 256, 8, True),   # an AntMaze policy's last layer
    (256, 64, 1, False),   # one column: a matrix-vector product, already fast
    (256, 64, 64, False),  # a hidden layer: whole tiles
    (256, 256, 32, False),  # whole tiles
    (256, 2, 64, False),   # a first layer: a 2-term sum, whole tiles
    (5, 256, 64, False),   # few rows, whole tiles: the fast case itself
    (5, 256, 7, False),    # ragged both ways: transposing gains nothing
])
def test_only_thin_products_are_transposed_and_results_are_unchanged(m, k, n, thin):
    assert is_thin(m, k, n) is thin
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(3, m, k, generator=g), torch.randn(3, k, n, generator=g)
    gm = traced_bmm(a, b)
    ThinMatmulsTransposed()(gm.graph)
    gm.recompile()
    expected = [((3, n, k), (3, k, m))] if thin else [((3, m, k), (3, k, n))]
    assert bmm_operand_shapes(gm) == expected
    torch.testing.assert_close(gm(a, b), torch.bmm(a, b).relu(), rtol=1e-5, atol=1e-5)


def test_the_pass_has_a_cache_key():
    """Inductor caches compiled graphs only when a custom pass can name its version."""
    assert ThinMatmulsTransposed().uuid()
