"""Training: the loop (`train`), the batched engine that steps every seed at once, its
optimiser and fused matmuls, evaluation rollouts, run folders and experiment tracking."""
