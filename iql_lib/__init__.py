"""iql_lib: Implicit Q-Learning, its baselines, environments and data, for the course."""
from iql_lib.rendering.gl import prefer_offscreen_gl

__version__ = "0.1.0"

prefer_offscreen_gl()  # before any module here imports MuJoCo, which reads MUJOCO_GL only then
