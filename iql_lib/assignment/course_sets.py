"""The course's experiments as named sets of configurations (docs/design.md, "The experiments the course runs").

- `p1`: AWAC (λ = 0.1) on antmaze-medium-diverse-v0 and antmaze-umaze-v0 (csv_data/P1/2, P1/1);
- `p2`: IQL ζ = 0.9 on antmaze-medium-diverse-v0 (P2/2) and ζ ∈ {0.9, 0.2} on antmaze-umaze-v0
  (P2/1 takes the better ζ);
- `baselines`: what P1 and P2 are read against, BC and filtered BC (top 10 %) on both mazes;
- `stitching`: P2.3 on PointmassMedium-v0, IQL ζ ∈ {0.9, 0.2} and filtered BC (top 10 %).

Each configuration trains the course's three seeds with its task's defaults (iql_lib/config.py);
`iql sweep --course` (the demo among them) and the AntMaze reference runs behind
thresholds.toml (benchmarks/antmaze_reference.py) read them from here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from iql_lib.config import TrainConfig, default_exp_name, make_config

UMAZE, MEDIUM = "antmaze-umaze-v0", "antmaze-medium-diverse-v0"
STITCHING_ENV = "PointmassMedium-v0"


@dataclass(frozen=True)
class CourseConfig:
    """One configuration of a course set: its task, its knobs, and the csv_data/ folder it fills."""

    env_name: str
    knobs: dict = field(default_factory=dict)   # TrainConfig fields: algo, expectile, ...
    slot: str | None = None                     # csv_data/ folder, None: not submitted

    def config(self, **overrides) -> TrainConfig:
        return make_config(self.env_name, **{**self.knobs, **overrides})

    @property
    def name(self) -> str:
        return self.knobs.get("exp_name") or default_exp_name(self.config())


STITCHING_METHODS: dict[str, dict] = {
    "iql_zeta_0.9": dict(algo="iql", expectile=0.9),
    "iql_zeta_0.2": dict(algo="iql", expectile=0.2),
    "filtered_bc_top10": dict(algo="bc", filter_top_percent=10),
}

# Every AntMaze configuration of P1 and P2 and the baselines, the most telling first.
ANTMAZE_REFERENCE = [
    CourseConfig(MEDIUM, dict(algo="iql", expectile=0.9), "P2/2"),
    CourseConfig(MEDIUM, dict(algo="bc")),
    CourseConfig(MEDIUM, dict(algo="awac"), "P1/2"),
    CourseConfig(UMAZE, dict(algo="iql", expectile=0.9), "P2/1"),   # P2/1 takes the better ζ
    CourseConfig(UMAZE, dict(algo="iql", expectile=0.2), "P2/1"),
    CourseConfig(UMAZE, dict(algo="bc")),
    CourseConfig(UMAZE, dict(algo="awac"), "P1/1"),
    CourseConfig(MEDIUM, dict(algo="bc", filter_top_percent=10.0)),
    CourseConfig(UMAZE, dict(algo="bc", filter_top_percent=10.0)),
]

COURSE_SETS: dict[str, list[CourseConfig]] = {
    "p1": [c for c in ANTMAZE_REFERENCE if c.knobs["algo"] == "awac"],
    "p2": [c for c in ANTMAZE_REFERENCE if c.knobs["algo"] == "iql"],
    "baselines": [c for c in ANTMAZE_REFERENCE if c.knobs["algo"] == "bc"],
    "stitching": [CourseConfig(STITCHING_ENV, dict(knobs, exp_name=name))
                  for name, knobs in STITCHING_METHODS.items()],
}
