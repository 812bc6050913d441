"""AntMaze drawn by MuJoCo from the ant's states: a camera that follows the ant, and the maze
from above with the goal, the ant and its path so far.

An AntMaze observation holds the ant's whole state (x-y in the task's frame, then the rest
of MuJoCo's qpos, then qvel), so a frame is drawn from an observation alone: a policy's
rollout and a dataset's episode render alike, and the simulation that made them is never
touched. The renderer works on its own copy of the task's model, lit and coloured for
small frames (no shadows, reflections or sky, which cost a software rasteriser five times
the rest of a frame).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import mujoco  # MUJOCO_GL is set by then: importing iql_lib, this module's package, set it
import numpy as np

from iql_lib.envs.antmaze import SCALE, AntMazeEnv
from iql_lib.rendering.gl import no_offscreen_gl

VIEWS = ("follow", "top")
FOLLOW = dict(distance=7.0, elevation=-65.0, azimuth=90.0)  # above and behind (south of) the ant, looking north
TOP_MARGIN = 1.03      # the top view shows the maze and 3 % around it
ANT_MARKER = 0.6       # m: radius of the see-through ball over the ant in the top view, which shows it at any size
PATH_SEGMENTS = 250    # at most this many segments draw the path so far
PATH_WIDTH = 2.5       # pixels: lines, which cost a software rasteriser far less than capsules
FLOOR_FROM_ABOVE = (0.42, 0.44, 0.47, 1.0)  # a plain floor: the checkers alias at a map's scale
COLOURS = {"running": (0.15, 0.55, 1.0, 1.0), "success": (0.1, 0.8, 0.25, 1.0), "fell": (0.9, 0.15, 0.15, 1.0)}


@dataclass
class _View:
    camera: object        # mujoco.MjvCamera
    fovy: float           # degrees (perspective), or metres seen top to bottom (orthographic)
    from_above: bool


class AntMazeCamera:
    """`frame(observations, goal, status)` is the picture of `observations[-1]` (the ant's
    states so far, in the task's frame) in each of `views`, side by side: `[height, width ·
    len(views), 3]` bytes."""

    def __init__(self, env: AntMazeEnv, views: tuple[str, ...] = VIEWS, width: int = 320, height: int = 240):
        if not views or set(views) - set(VIEWS):
            raise ValueError(f"AntMaze views are {', '.join(VIEWS)}; got {', '.join(views) or 'none'}")
        self.env, self.views, self.size = env, tuple(views), (width, height)
        model = self.model = copy.deepcopy(env.sim.ant_env.model)
        model.vis.global_.offwidth, model.vis.global_.offheight = max(width, 640), max(height, 480)
        model.vis.headlight.diffuse[:], model.vis.headlight.specular[:] = 0.35, 0.0
        model.light_diffuse[:] = 0.7
        self.data = mujoco.MjData(model)
        self.target = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "target")
        try:
            self.renderer = mujoco.Renderer(model, height, width)
        except Exception as err:  # which error depends on the backend: GLError, FatalError, ImportError...
            raise no_offscreen_gl(err) from err
        for costly in (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION, mujoco.mjtRndFlag.mjRND_SKYBOX):
            self.renderer.scene.flags[costly] = 0
        self._views = {name: self._view(name) for name in self.views}

    def _view(self, name: str) -> _View:
        camera = mujoco.MjvCamera()
        if name == "follow":
            camera.type = mujoco.mjtCamera.mjCAMERA_TRACKING
            camera.trackbodyid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, "torso")
            camera.distance, camera.elevation, camera.azimuth = FOLLOW.values()
            return _View(camera, fovy=float(self.model.vis.global_.fovy), from_above=False)
        rows, cols = self.env.grid.shape
        width, height = self.size
        camera.type, camera.orthographic = mujoco.mjtCamera.mjCAMERA_FREE, 1
        camera.lookat[:], camera.distance, camera.elevation, camera.azimuth = 0.0, 60.0, -90.0, 90.0
        return _View(camera, fovy=TOP_MARGIN * SCALE * max(rows, cols * height / width), from_above=True)

    def frame(self, observations: np.ndarray, goal: np.ndarray, status: str = "running") -> np.ndarray:
        """The views of the last of `observations` `[t + 1, 29]`; the top view draws the path
        through all of them and marks the ant in `status`'s colour (running, success, fell)."""
        model, data = self.model, self.data
        offset = self.env.offset  # task frame -> simulator frame (nonzero in D4RL's frame)
        state = observations[-1]
        data.qpos[:2], data.qpos[2:], data.qvel[:] = state[:2] + offset, state[2:15], state[15:29]
        model.site_pos[self.target, :2] = np.asarray(goal) + offset
        mujoco.mj_forward(model, data)
        pictures = []
        for name in self.views:
            view = self._views[name]
            model.vis.global_.fovy = view.fovy  # read when the scene is updated: each view its own
            self.renderer.update_scene(data, view.camera)
            if view.from_above:
                self._mark_from_above(self.renderer.scene, observations[:, :2] + offset, COLOURS[status])
            pictures.append(self.renderer.render())
        return np.concatenate(pictures, axis=1)

    def _mark_from_above(self, scene, path: np.ndarray, colour) -> None:
        """A plain floor, the path so far as a line on it, and a ball over the ant."""
        for geom in scene.geoms[:scene.ngeom]:
            if geom.objtype == mujoco.mjtObj.mjOBJ_GEOM and geom.objid == 0:  # the floor
                geom.matid, geom.rgba = -1, FLOOR_FROM_ABOVE
        rgba = np.array(colour, dtype=np.float32)
        points = path[:: max(1, -(-len(path) // PATH_SEGMENTS))]
        points = np.vstack([points, path[-1:]])
        room = scene.maxgeom - scene.ngeom - 1
        for a, b in list(zip(points[:-1], points[1:]))[-room:]:
            geom = scene.geoms[scene.ngeom]
            mujoco.mjv_initGeom(geom, mujoco.mjtGeom.mjGEOM_LINE, np.zeros(3), np.zeros(3), np.eye(3).ravel(), rgba)
            mujoco.mjv_connector(geom, mujoco.mjtGeom.mjGEOM_LINE, PATH_WIDTH, np.r_[a, 0.05], np.r_[b, 0.05])
            scene.ngeom += 1
        mujoco.mjv_initGeom(scene.geoms[scene.ngeom], mujoco.mjtGeom.mjGEOM_SPHERE, np.full(3, ANT_MARKER),
                            np.r_[path[-1], 1.0], np.eye(3).ravel(), rgba * (1, 1, 1, 0.6))
        scene.ngeom += 1

    def close(self) -> None:
        self.renderer.close()
