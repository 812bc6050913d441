"""A compiler pass for small networks: thin matmuls computed transposed.

A batched product `A @ B` whose output has only a few columns (`[S, M, N]` with
2 ≤ N ≤ 8: a Q-network's last layer, or the weight gradient of a layer fed 2-D
observations) is slow in the CPU BLAS, while the same product transposed,
`(Bᵀ @ Aᵀ)ᵀ`, which has few rows instead, is fast. Measured on a 2-core CPU:
[6,64,256] @ [6,256,5] 69 → 17 µs, [3,64,256] @ [3,256,2] 40 → 11 µs, about 15 % of a
PointMass IQL step. The product is the same; only its rounding may differ.

`torch.compile` runs `ThinMatmulsTransposed` on the graph after autograd (inductor's
`post_grad_custom_post_pass`); the engine asks for it on the CPU only.
"""
from __future__ import annotations

import torch
from torch._inductor.custom_graph_pass import CustomGraphPass, get_hash_for_files

aten = torch.ops.aten
MAX_THIN = 8  # at most this many output columns makes a product thin


def is_thin(m: int, k: int, n: int) -> bool:
    """`[M, K] @ [K, N]` is faster transposed: few output columns (one column is a
    matrix-vector product, which the BLAS handles well), more rows, a real sum."""
    return 2 <= n <= MAX_THIN and m > n and k > MAX_THIN


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
