"""Rendered rollouts: episodes of a run's policy or of a dataset's collector, filmed.

- `gl`: offscreen OpenGL for MuJoCo (`MUJOCO_GL`), chosen when `iql_lib` is imported;
- `episodes`: what is filmed (states, rewards, success and falls) and where it comes from;
- `antmaze`, `pointmass`: each family's camera, a frame from a state;
- `video`: the caption strip, and the MP4 and GIF files;
- `films`: the two together, `iql-render` and `iql-data render`;
- `notebook`: a rollout shown in a notebook (a GIF, or still frames under nbgrader).
"""
