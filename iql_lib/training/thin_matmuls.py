"""A compiler pass for the CPU: matmuls with a ragged output width computed transposed.

The CPU BLAS computes a batched product `A @ B` (output `[S, M, N]`) in tiles of 16
output columns; when N is not a multiple of 16 the ragged edge is slow, and the same
product transposed, `(Bᵀ @ Aᵀ)ᵀ`, whose output width is M instead, is fast when M is a
multiple of 16. Small networks are full of such products: a Q-network's 5-action last
layer, the weight gradients of layers fed 2-D (PointMass) or 29-/37-D (AntMaze) inputs.
Measured on a 2-core CPU (MKL, AVX2), bmm time over transposed time with M = 256,
K = 256: N = 2: 2.4, 5: 4.5, 8: 3.8, 12: 1.8, 29: 1.6, 37: 1.3; but 16: 0.90, 32: 0.94,
64: 0.97. On a PointMass IQL step it saves about 15 %. The product is the same; only its
rounding may differ.

`torch.compile` runs `ThinMatmulsTransposed` on the graph after autograd (inductor's
`post_grad_custom_post_pass`); the engine asks for it on the CPU only.
"""
from __future__ import annotations

import torch
from torch._inductor.custom_graph_pass import CustomGraphPass, get_hash_for_files

aten = torch.ops.aten
TILE = 16  # output columns the BLAS computes at once


def is_thin(m: int, k: int, n: int) -> bool:
    """`[M, K] @ [K, N]` is faster transposed: a ragged output width N (one column is a
    matrix-vector product, which the BLAS handles well), a whole-tile height M, and a
    real sum over K."""
    return n >= 2 and n % TILE != 0 and m % TILE == 0 and k >= TILE


class ThinMatmulsTransposed(CustomGraphPass):
    """Rewrites every thin `bmm(a, b)` as `bmm(bᵀ, aᵀ)ᵀ`."""

    def __call__(self, graph: torch.fx.Graph) -> None:
        for node in list(graph.nodes):
            if node.target is not aten.bmm.default:
                continue
            a, b = node.args
            (_, m, k), n = a.meta["val"].shape, b.meta["val"].shape[2]
            if not is_thin(m, k, n):
                continue
            with graph.inserting_before(node):
                swapped = _call(graph, aten.bmm.default, _transposed(graph, b), _transposed(graph, a))
                node.replace_all_uses_with(_transposed(graph, swapped))
            graph.erase_node(node)

    def uuid(self) -> bytes:
        return get_hash_for_files((__file__,))


def _transposed(graph: torch.fx.Graph, node: torch.fx.Node) -> torch.fx.Node:
    return _call(graph, aten.permute.default, node, [0, 2, 1])


def _call(graph: torch.fx.Graph, op, *args) -> torch.fx.Node:
    """A new node `op(*args)` whose metadata holds its (fake) value, as inductor's
    lowering expects of every node."""
    new = graph.call_function(op, args)
    new.meta["val"] = op(*(a.meta["val"] if isinstance(a, torch.fx.Node) else a for a in args))
    return new
