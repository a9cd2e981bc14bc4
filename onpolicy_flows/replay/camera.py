"""Where replays look from: the env's default view, following the agent when it can walk away.

gymnasium's MuJoCo envs describe their default view as a dict (distance, elevation, azimuth,
lookat, sometimes trackbodyid) that gymnasium 1.x applies to a FREE camera, on which
`trackbodyid` has no effect: a hopper walks out of the picture. Here a task whose root body is
free to translate (a free joint, or a slide joint without limits: Hopper, Walker2d,
HalfCheetah, Ant, Humanoid, Swimmer) gets MuJoCo's TRACKING camera on that body, which keeps
the default distance and angles and moves its look-at point with the body's subtree centre of
mass. Fixed-base tasks (Reacher, the pendulums, whose cart slides within limits) keep the
fixed view. Nothing here imports TensorFlow.
"""
from typing import Optional

import mujoco
import numpy as np

VIEW_SETTINGS = ("distance", "elevation", "azimuth", "lookat")  # taken from the env's dict
_CAMERA_FIELDS = ("type", "fixedcamid", "trackbodyid", "lookat", "distance", "azimuth",
                  "elevation", "orthographic")


def root_body(model: mujoco.MjModel) -> int:
    """Id of the body that carries the model's first joint (0, the world, without joints)."""
    return int(model.jnt_bodyid[0]) if model.njnt else 0


def follows_agent(model: mujoco.MjModel) -> bool:
    """Whether the root body is free to translate: a free joint or an unlimited slide joint."""
    body = root_body(model)
    for joint in range(model.njnt):
        if model.jnt_bodyid[joint] != body:
            continue
        joint_type = model.jnt_type[joint]
        if joint_type == mujoco.mjtJoint.mjJNT_FREE or (
                joint_type == mujoco.mjtJoint.mjJNT_SLIDE and not model.jnt_limited[joint]):
            return True
    return False


def default_view(model: mujoco.MjModel, camera_config: Optional[dict]) -> mujoco.MjvCamera:
    """The env's fixed default view, as gymnasium's offscreen renderer sets it up: a free
    camera at the model's default azimuth and elevation, looking at the median position of
    the geoms in the initial state from the model's extent away, then the distance,
    elevation, azimuth and look-at point (metres, degrees) of `camera_config` where it
    gives them."""
    camera = mujoco.MjvCamera()
    mujoco.mjv_defaultFreeCamera(model, camera)
    initial = mujoco.MjData(model)
    mujoco.mj_forward(model, initial)
    camera.lookat[:] = np.median(initial.geom_xpos, axis=0)
    camera.distance = model.stat.extent
    for name, value in (camera_config or {}).items():
        if name == "lookat":
            camera.lookat[:] = value
        elif name in VIEW_SETTINGS:
            setattr(camera, name, value)
    return camera


def agent_view(model: mujoco.MjModel, camera_config: Optional[dict]) -> mujoco.MjvCamera:
    """The view replays use: `default_view`, tracking the root body where the agent can
    walk away (see `follows_agent`)."""
    camera = default_view(model, camera_config)
    if follows_agent(model):
        camera.type = mujoco.mjtCamera.mjCAMERA_TRACKING
        camera.trackbodyid = root_body(model)
    return camera


def point_window_at_agent(env) -> None:
    """Gives the window of a MuJoCo env made with render_mode="human" the `agent_view`
    camera (rendering one frame first, which opens the window if it is not open yet). Other
    envs keep their own camera (pybullet's walkers move theirs with the robot)."""
    unwrapped = env.unwrapped
    if not hasattr(unwrapped, "mujoco_renderer"):
        return
    unwrapped.render()
    renderer = unwrapped.mujoco_renderer
    view = agent_view(unwrapped.model, renderer.default_cam_config)
    window_camera = renderer.viewer.cam
    for name in _CAMERA_FIELDS:
        if name == "lookat":
            window_camera.lookat[:] = view.lookat
        else:
            setattr(window_camera, name, getattr(view, name))
