"""A rhythmic ant gait that walks in any direction without turning.

The ant's four legs sit at 45°, 135°, 225° and 315°, and its body is symmetric under a
quarter turn, so it need not turn to change course: a gait that walks along the body's
+x axis, with its legs' roles handed round, walks along +y, −x or −y. Two base gaits are
tuned (toward +x, between two legs, and toward 45°, along a leg); the eight directions they
give by symmetry cover the circle, and a command in between blends the joint targets of its
two neighbours on one shared phase clock, so changing course never jumps the rhythm.

Each leg follows sinusoidal hip and ankle targets, held by a PD loop on the joint angles:
a closed loop on the joints, an open loop on the body. Commands are world directions; the
body's yaw (from the torso quaternion in the observation) turns them into body directions.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iql_lib.envs.antmaze import ANTS, yaw_of

# one tuned gait per ant (`iql_lib.envs.antmaze.ANTS`): gymnasium's (0.05 s steps) and D4RL's
# (0.1 s steps, a fifth of the torque)
GAIT_FILES = {"gymnasium": Path(__file__).with_name("ant_gait.json"),
              "d4rl": Path(__file__).with_name("ant_gait_d4rl.json")}
N_LEGS, N_LEG_PARAMS = 4, 6  # per leg: hip centre, amplitude, phase; ankle centre, amplitude, phase

# Legs in counter-clockwise order from 45° (front_left, front_right, back, right_back).
# Observation indices (flat 29-dim AntMaze observation) of each leg's hip and ankle angle
# and speed, the actuator index driving each, and the ankle's sign: a quarter turn maps
# leg k onto leg k+1 with the ankle axis reversed on legs 1 and 2.
HIP_OBS = np.array([7, 9, 11, 13])
ANKLE_OBS = HIP_OBS + 1
HIP_ACT = np.array([2, 4, 6, 0])
ANKLE_ACT = HIP_ACT + 1
ANKLE_SIGN = np.array([1.0, -1.0, -1.0, 1.0])
JOINT_SPEED_OFFSET = 14    # joint speeds sit 14 entries after their angles
HIP_RANGE = np.deg2rad(30.0)
ANKLE_RANGE = np.deg2rad([30.0, 70.0])  # in the sign-normalised ankle angle


@dataclass
class Gait:
    """The tuned numbers (`ant_gait.json`) and the controller they define."""

    frequency: float     # Hz
    kp: float            # PD gains on the joint-angle error (action units per radian)
    kd: float
    legs: np.ndarray     # [2 base directions (0°, 45°), 4 legs, 6 params]
    ant: str = "gymnasium"  # the ant it is tuned for (its control rate and torque)

    @property
    def dt(self) -> float:
        """Seconds per env step."""
        return ANTS[self.ant].dt

    # --- flat parameter vector, for CMA-ES -------------------------------------------
    @classmethod
    def from_vector(cls, v: np.ndarray, ant: str = "gymnasium") -> "Gait":
        v = np.asarray(v, dtype=np.float64)
        return cls(float(v[0]), float(v[1]), float(v[2]), v[3:].reshape(2, N_LEGS, N_LEG_PARAMS).copy(),
                   ant)

    def to_vector(self) -> np.ndarray:
        return np.concatenate([[self.frequency, self.kp, self.kd], self.legs.ravel()])

    @classmethod
    def initial(cls, ant: str = "gymnasium") -> "Gait":
        """A diagonal trot to start tuning from: legs 0 and 2 in phase, 1 and 3 opposite,
        with gains that ask for the same torques of every ant."""
        leg = lambda phase: [0.0, 0.35, phase, 0.9, 0.25, phase + np.pi / 2]  # noqa: E731
        base = [leg(0.0), leg(np.pi), leg(0.0), leg(np.pi)]
        stronger = ANTS["gymnasium"].gear / ANTS[ant].gear
        return cls(2.0, 0.8 * stronger, 0.05 * stronger, np.array([base, base]), ant)

    # --- storage -------------------------------------------------------------------------
    def save(self, path: str | Path | None = None, **notes) -> None:
        """Write the numbers (default: the shipped file for this control rate)."""
        Path(path or GAIT_FILES[self.ant]).write_text(json.dumps(
            {"vector": self.to_vector().tolist(), "ant": self.ant, **notes}, indent=1))

    @classmethod
    def load(cls, path: str | Path | None = None, ant: str = "gymnasium") -> "Gait":
        """The gait in `path`, else the shipped one tuned for `ant`; a file written before
        gaits recorded their ant is one for gymnasium's."""
        if path is None and ant not in GAIT_FILES:
            raise ValueError(f"no gait tuned for ant {ant!r}; tuned: {', '.join(GAIT_FILES)}")
        stored = json.loads(Path(path or GAIT_FILES[ant]).read_text())
        return cls.from_vector(np.array(stored["vector"]), str(stored.get("ant", "gymnasium")))

    # --- control -------------------------------------------------------------------------
    def leg_targets(self, phase: float, direction: float) -> np.ndarray:
        """[4, 2] hip and sign-normalised ankle targets for a body-frame `direction` (rad)."""
        sector = direction / (np.pi / 4)
        low = int(np.floor(sector))
        blend = sector - low
        return (1.0 - blend) * self._base_targets(phase, low) + blend * self._base_targets(phase, low + 1)

    def _base_targets(self, phase: float, base: int) -> np.ndarray:
        """Targets of base direction `base` × 45°: base gait `base % 2`, legs handed round
        by `base // 2` quarter turns (leg k plays the part of leg k − turns)."""
        p = np.roll(self.legs[base % 2], (base // 2) % N_LEGS, axis=0)
        hip = p[:, 0] + p[:, 1] * np.sin(phase + p[:, 2])
        ankle = p[:, 3] + p[:, 4] * np.sin(phase + p[:, 5])
        return np.stack([hip, ankle], axis=1)

    def action(self, observation: np.ndarray, step: int, heading: float) -> np.ndarray:
        """Torques (in [−1, 1]) that walk the ant toward world `heading` (rad) at env `step`."""
        phase = 2.0 * np.pi * self.frequency * self.dt * step
        targets = self.leg_targets(phase, (heading - yaw_of(observation)) % (2.0 * np.pi))
        hip_target = np.clip(targets[:, 0], -HIP_RANGE, HIP_RANGE)
        ankle_target = ANKLE_SIGN * np.clip(targets[:, 1], *ANKLE_RANGE)
        act = np.empty(8)
        act[HIP_ACT] = self.kp * (hip_target - observation[HIP_OBS]) \
            - self.kd * observation[HIP_OBS + JOINT_SPEED_OFFSET]
        act[ANKLE_ACT] = self.kp * (ankle_target - observation[ANKLE_OBS]) \
            - self.kd * observation[ANKLE_OBS + JOINT_SPEED_OFFSET]
        return np.clip(act, -1.0, 1.0)
