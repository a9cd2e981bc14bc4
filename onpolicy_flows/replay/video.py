"""Rendering recorded MuJoCo states (a `replay.recording.Recording`) in a process of its own:
to an MP4 and an animated GIF offscreen, or in a window.

Mesa's software OpenGL (llvmpipe: EGL and OSMesa on a machine without a GPU, and many
virtual displays) and TensorFlow both carry LLVM, and rendering in a process that has loaded
TensorFlow crashes inside LLVM. So replays record each frame's simulator state and this
module, which never imports TensorFlow, sets those states and renders them:

    python -m onpolicy_flows.replay.video ENV_ID RECORDING.npz [--env-kwargs JSON]
        [--video OUT.mp4] [--gif OUT.gif] [--width 480] [--height 480] [--quality fast|full]
        [--window]

It prints "<frames done> <frames in all>" after each frame, for the caller's progress bar.

The camera follows the agent in locomotion tasks (`replay.camera`) over floors drawn larger
than the models describe them. The "fast" quality turns off what costs most on a CPU
renderer (multisampling, shadows, reflections, the skybox, haze and trilinear texture
filtering): with llvmpipe about 12x faster than MuJoCo's full scene, so that a 1000-step
Hopper episode records at 480x480 in ~15 s instead of ~2 min on 2 busy cores
(`benchmarks/render_speed.py`). Files are written by `replay.frame_writer`.
"""
import argparse
import json
import sys
import time
from typing import Optional

import glfw
import mujoco
import numpy as np
from OpenGL import GL

from onpolicy_flows.envs.factory import make_env
from onpolicy_flows.replay.camera import agent_view, point_window_at_agent
from onpolicy_flows.replay.frame_writer import FrameWriter, caption_text
from onpolicy_flows.replay.recording import QUALITIES, Recording, RenderSettings

FAST_SCENE_OFF = (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION,
                  mujoco.mjtRndFlag.mjRND_SKYBOX, mujoco.mjtRndFlag.mjRND_HAZE)
FLOOR_SCALE = 50  # floors drawn this much larger: Hopper's ends 20 m from the start


def extend_floors(model: mujoco.MjModel) -> None:
    """Draws the planes attached to the world FLOOR_SCALE times larger, with the same tile
    size, so that an agent that walks far still walks on a floor (collisions with a plane
    are unbounded anyway). Call before the model's rendering context is made."""
    scaled_materials = set()
    for geom in range(model.ngeom):
        if model.geom_type[geom] != mujoco.mjtGeom.mjGEOM_PLANE or model.geom_bodyid[geom]:
            continue
        model.geom_size[geom, :2] *= FLOOR_SCALE
        material = int(model.geom_matid[geom])
        if material >= 0 and material not in scaled_materials \
                and not model.mat_texuniform[material]:  # repeats per plane, not per metre
            model.mat_texrepeat[material] *= FLOOR_SCALE
            scaled_materials.add(material)


class FrameRenderer:
    """RGB frames [height, width, 3] uint8 of simulator states of one env (made as
    `envs.factory.make_env` makes it), offscreen, seen from `camera.agent_view`."""

    def __init__(self, env_id: str, settings: RenderSettings,
                 env_kwargs: Optional[dict] = None):
        self.env = make_env(env_id, seed=0, env_kwargs=env_kwargs)
        simulation = self.env.unwrapped
        model = simulation.model
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, settings.width)
        model.vis.global_.offheight = max(model.vis.global_.offheight, settings.height)
        fast = settings.quality == "fast"
        if fast:
            model.vis.quality.offsamples = 0  # read when the rendering context is made
        extend_floors(model)
        self.gl_context = mujoco.GLContext(settings.width, settings.height)
        self.gl_context.make_current()
        self.context = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_150)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self.context)
        self.scene = mujoco.MjvScene(model, maxgeom=10_000)
        self.options = mujoco.MjvOption()
        self.viewport = mujoco.MjrRect(0, 0, settings.width, settings.height)
        self.pixels = np.empty((settings.height, settings.width, 3), np.uint8)
        if fast:
            for flag in FAST_SCENE_OFF:
                self.scene.flags[flag] = False
            _sample_one_mipmap_level(self.context)
        self.camera = agent_view(model, simulation.mujoco_renderer.default_cam_config)
        self.fps = simulation.metadata.get("render_fps", 30)

    def render(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """The frame of the state qpos [nq], qvel [nv] (valid until the next call)."""
        simulation = self.env.unwrapped
        simulation.set_state(qpos, qvel)
        mujoco.mjv_updateScene(simulation.model, simulation.data, self.options, None,
                               self.camera, mujoco.mjtCatBit.mjCAT_ALL, self.scene)
        mujoco.mjr_render(self.viewport, self.scene, self.context)
        mujoco.mjr_readPixels(self.pixels, None, self.viewport, self.context)
        return self.pixels[::-1]  # OpenGL's rows run bottom to top

    def close(self) -> None:
        self.context.free()
        self.gl_context.free()
        self.env.close()


def _sample_one_mipmap_level(context: mujoco.MjrContext) -> None:
    """Bilinear texture sampling from the nearest mipmap level instead of MuJoCo's trilinear
    blend of two: ~25% faster frames with llvmpipe, the same look on a checkered floor."""
    for index in range(context.ntexture):
        if context.textureType[index] == mujoco.mjtTexture.mjTEXTURE_2D:
            GL.glBindTexture(GL.GL_TEXTURE_2D, int(context.texture[index]))
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER,
                               GL.GL_LINEAR_MIPMAP_NEAREST)


def recording_caption(recording: dict, row: int) -> str:
    """`caption_text` of row `row` of a loaded `Recording`."""
    return caption_text(recording["episode"][row], recording["episode"].max(),
                        recording["step"][row], recording["episode_return"][row])


def render_recording(env_id: str, env_kwargs: Optional[dict], recording: dict,
                     settings: RenderSettings, video_path: Optional[str] = None,
                     gif_path: Optional[str] = None, on_frame=lambda done, total: None) -> int:
    """Renders a `Recording`'s rows through a `FrameWriter` at the env's own frame rate,
    each frame captioned with its episode, step and return so far. Calls `on_frame(done,
    total)` after each frame; returns the number of frames rendered."""
    frames = FrameRenderer(env_id, settings, env_kwargs)
    try:
        with FrameWriter(frames.fps, video_path, gif_path) as writer:
            rows = [row for row in range(len(recording["qpos"])) if writer.wants(row)]
            for done, row in enumerate(rows, start=1):
                writer.add(row, frames.render(recording["qpos"][row], recording["qvel"][row]),
                           recording_caption(recording, row))
                on_frame(done, len(rows))
    finally:
        frames.close()
    return len(rows)


def show_recording(env_id: str, env_kwargs: Optional[dict], recording: dict,
                   on_frame=lambda done, total: None) -> int:
    """Shows a `Recording`'s rows in a window (needs a display) at the env's own frame rate,
    with `camera.agent_view` and a caption in the top-right corner, until its end or until
    the window is closed. Calls `on_frame(done, total)` after each frame; returns the number
    of frames shown."""
    env = make_env(env_id, seed=0, render_mode="human", env_kwargs=env_kwargs)
    simulation = env.unwrapped
    extend_floors(simulation.model)
    point_window_at_agent(env)
    viewer = simulation.mujoco_renderer.viewer
    seconds_per_frame = 1.0 / simulation.metadata.get("render_fps", 30)
    total, shown = len(recording["qpos"]), 0
    try:
        for row in range(total):
            if glfw.window_should_close(viewer.window):
                break
            start = time.perf_counter()
            simulation.set_state(recording["qpos"][row], recording["qvel"][row])
            viewer.add_overlay(mujoco.mjtGridPos.mjGRID_TOPRIGHT,
                               recording_caption(recording, row), "")
            simulation.render()
            shown += 1
            on_frame(shown, total)
            time.sleep(max(0.0, seconds_per_frame - (time.perf_counter() - start)))
    finally:
        env.close()
    return shown


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("env_id")
    parser.add_argument("recording", help="an .npz written by Recording.save")
    parser.add_argument("--env-kwargs", type=json.loads, default={},
                        help="keyword arguments of gym.make, as a JSON object")
    parser.add_argument("--video", default=None)
    parser.add_argument("--gif", default=None)
    parser.add_argument("--width", type=int, default=RenderSettings.width)
    parser.add_argument("--height", type=int, default=RenderSettings.height)
    parser.add_argument("--quality", choices=QUALITIES, default=RenderSettings.quality)
    parser.add_argument("--window", action="store_true", help="show it in a window instead")
    args = parser.parse_args(argv)
    recording = Recording.load(args.recording)
    if args.window:
        show_recording(args.env_id, args.env_kwargs, recording, print_progress)
    else:
        render_recording(args.env_id, args.env_kwargs, recording,
                         RenderSettings(args.width, args.height, args.quality), args.video,
                         args.gif, print_progress)


def print_progress(done: int, total: int) -> None:
    """The line the caller's progress bar reads: "<frames done> <frames in all>"."""
    print(done, total, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
