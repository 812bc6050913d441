"""d3rlpy's IQL step time on an AntMaze-shaped problem (run inside d3rlpy's own venv).

Usage: python benchmarks/d3rlpy_iql.py --steps 200 --threads 2 --device cpu:0
Prints one JSON line. Same shapes as ours: 29-dim observations, 8-dim actions,
2×256 MLPs (d3rlpy's default encoder), batch 256, 1M transitions.
"""
import argparse
import json
import time

import d3rlpy
import numpy as np
import torch

p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=200)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--device", default="cpu:0")
p.add_argument("--transitions", type=int, default=1_000_000)
p.add_argument("--compile-graph", action="store_true")
args = p.parse_args()
torch.set_num_threads(args.threads)

rng = np.random.default_rng(0)
n = args.transitions
terminals = np.zeros(n, dtype=np.float32)
terminals[999::1000] = 1.0  # 1000-step episodes
dataset = d3rlpy.dataset.MDPDataset(
    observations=rng.standard_normal((n, 29), dtype=np.float32),
    actions=rng.uniform(-1, 1, (n, 8)).astype(np.float32),
    rewards=-np.ones(n, dtype=np.float32),
    terminals=terminals,
)
encoder = d3rlpy.models.VectorEncoderFactory([256, 256])
iql = d3rlpy.algos.IQLConfig(batch_size=256, actor_encoder_factory=encoder, critic_encoder_factory=encoder,
                             value_encoder_factory=encoder, compile_graph=args.compile_graph).create(device=args.device)
iql.build_with_dataset(dataset)
for _ in range(20):
    iql.update(dataset.sample_transition_batch(256))
start = time.perf_counter()
for _ in range(args.steps):
    iql.update(dataset.sample_transition_batch(256))
elapsed = time.perf_counter() - start
print(json.dumps({"impl": "d3rlpy", "version": d3rlpy.__version__, "algo": "iql", "steps": args.steps,
                  "steps_per_s": args.steps / elapsed, "ms_per_step": 1e3 * elapsed / args.steps,
                  "compile_graph": args.compile_graph, "device": args.device}))
