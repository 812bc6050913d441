"""Offscreen OpenGL for MuJoCo's renderer, without a display.

MuJoCo reads `MUJOCO_GL` once, when it is first imported, and picks its OpenGL context
from it; unset, it picks GLFW, which needs a display. So `prefer_offscreen_gl()` runs when
`iql_lib` is imported, before anything here imports MuJoCo: it keeps a `MUJOCO_GL` the user
set, else chooses EGL when the system's EGL library loads, else OSMesa when that loads.
Loading a library is all it checks; whether a context really opens shows when the first
renderer is made, and `no_offscreen_gl` turns that failure into an error that names the
system packages to install.
"""
from __future__ import annotations

import ctypes
import os
import platform

from iql_lib.errors import UserError

# Each backend, the library it loads first, and the Debian/Ubuntu packages that provide
# it with a software rasteriser (Mesa's llvmpipe): what works on a machine with no GPU.
BACKENDS = {
    "egl": ("libEGL.so.1", "libegl1 libegl-mesa0 libgl1-mesa-dri"),
    "osmesa": ("libOSMesa.so.8", "libosmesa6"),
}


def _loads(library: str) -> bool:
    try:
        ctypes.CDLL(library)
    except OSError:
        return False
    return True


def prefer_offscreen_gl(environ: dict | None = None) -> str | None:
    """Set `MUJOCO_GL` for offscreen rendering unless the user set it: egl, else osmesa,
    whichever's library loads first (Linux only: MuJoCo's own choice renders offscreen on
    macOS and Windows). Returns the value in force, None when none was set."""
    environ = os.environ if environ is None else environ
    if "MUJOCO_GL" not in environ and platform.system() == "Linux":
        usable = [name for name, (library, _) in BACKENDS.items() if _loads(library)]
        if usable:
            environ["MUJOCO_GL"] = usable[0]
    return environ.get("MUJOCO_GL")


def no_offscreen_gl(error: Exception) -> UserError:
    """The error to raise when MuJoCo could not open an OpenGL context: what failed, and the
    system packages that provide one."""
    chosen = os.environ.get("MUJOCO_GL")
    egl, osmesa = BACKENDS["egl"][1], BACKENDS["osmesa"][1]
    return UserError(
        f"MuJoCo could not render offscreen (MUJOCO_GL={chosen or 'unset'}: {type(error).__name__}: {error}). "
        f"Install an offscreen OpenGL: on Debian or Ubuntu `apt-get install {egl}` (EGL, chosen by default), "
        f"or `apt-get install {osmesa}` and set MUJOCO_GL=osmesa. MUJOCO_GL must be set before MuJoCo is "
        f"first imported: import iql_lib before gymnasium_robotics or mujoco, or set it in the shell.")
