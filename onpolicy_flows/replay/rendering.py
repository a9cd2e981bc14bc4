"""Choosing MuJoCo's offscreen OpenGL backend for videos on machines without a screen.

MuJoCo reads `MUJOCO_GL` once, when it is first imported, so the backend is probed in a
child process and set before anything here imports mujoco.
"""
import os
import subprocess
import sys

from onpolicy_flows.common.errors import UserError

OFFSCREEN_BACKENDS = ("egl", "osmesa")
INSTALL_HINT = ("install an offscreen OpenGL backend: Debian/Ubuntu `apt-get install libegl1 "
                "libegl-mesa0 libgl1` (EGL through Mesa, MUJOCO_GL=egl) or `apt-get install "
                "libosmesa6` (MUJOCO_GL=osmesa)")
_PROBE = "import mujoco; context = mujoco.GLContext(16, 16); context.make_current()"


def select_offscreen_backend() -> str:
    """Sets MUJOCO_GL to a backend that can create a context here (the user's choice first,
    if set) and returns it; raises UserError with install instructions if none can."""
    user_choice = os.environ.get("MUJOCO_GL")
    candidates = [user_choice] if user_choice else list(OFFSCREEN_BACKENDS)
    for backend in candidates:
        probe = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True,
                               env=dict(os.environ, MUJOCO_GL=backend), timeout=120)
        if probe.returncode == 0:
            os.environ["MUJOCO_GL"] = backend
            return backend
    tried = ", ".join(candidates)
    raise UserError(f"no offscreen OpenGL backend works here (tried MUJOCO_GL={tried}); "
                    f"{INSTALL_HINT}")
