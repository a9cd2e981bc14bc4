"""Rendering recorded MuJoCo states (a `common.recording.Recording`) in a process of its own:
to an MP4 and an animated GIF offscreen, or in a window.

Mesa's software OpenGL (llvmpipe: EGL and OSMesa on a machine without a GPU, and many
virtual displays) and TensorFlow both carry LLVM, and rendering in a process that has loaded
TensorFlow crashes inside LLVM. So replays record each frame's simulator state and this
module, which never imports TensorFlow, sets those states and renders them:

    python -m onpolicy_flows.common.video ENV_ID RECORDING.npz [--env-kwargs JSON]
        [--video OUT.mp4] [--gif OUT.gif] [--width 480] [--height 480] [--quality fast|full]
        [--window]

It prints "<frames done> <frames in all>" after each frame, for the caller's progress bar.

The camera follows the agent in locomotion tasks (`common.camera`). The "fast" quality turns
off what costs most on a CPU renderer (multisampling, shadows, reflections, the skybox and
haze): with llvmpipe about 12x faster than MuJoCo's full scene, and a 1000-step Hopper
episode records at 480x480 in ~15 s instead of ~2 min (`benchmarks/render_speed.py`).
"""
import argparse
import functools
import json
import sys
import time
from typing import List, Optional

import glfw
import imageio
import mujoco
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from onpolicy_flows.common.camera import agent_view, point_window_at_agent
from onpolicy_flows.common.envs import make_env
from onpolicy_flows.common.recording import QUALITIES, Recording, RenderSettings

FAST_SCENE_OFF = (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION,
                  mujoco.mjtRndFlag.mjRND_SKYBOX, mujoco.mjtRndFlag.mjRND_HAZE)
MP4_ENCODER_OPTIONS = ["-preset", "superfast"]  # x264: ~3x faster than its default preset
FLOOR_SCALE = 50  # floors drawn this much larger: Hopper's ends 20 m from the start
GIF_MAX_SIDE = 320  # pixels: small enough for a README or a slide
GIF_FPS = 25  # frames per second at most (GIF delays are whole hundredths of a second)


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
    `common.envs.make_env` makes it), seen from `camera.agent_view` (replace `camera` to look
    from elsewhere)."""

    def __init__(self, env_id: str, settings: RenderSettings,
                 env_kwargs: Optional[dict] = None):
        self.env = make_env(env_id, seed=0, env_kwargs=env_kwargs)
        simulation = self.env.unwrapped
        model = simulation.model
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, settings.width)
        model.vis.global_.offheight = max(model.vis.global_.offheight, settings.height)
        if settings.quality == "fast":
            model.vis.quality.offsamples = 0  # read when the renderer's context is made
        extend_floors(model)
        self.renderer = mujoco.Renderer(model, settings.height, settings.width)
        if settings.quality == "fast":
            for flag in FAST_SCENE_OFF:
                self.renderer.scene.flags[flag] = False
        self.camera = agent_view(model, simulation.mujoco_renderer.default_cam_config)
        self.fps = simulation.metadata.get("render_fps", 30)

    def render(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """The frame of the state qpos [nq], qvel [nv]."""
        simulation = self.env.unwrapped
        simulation.set_state(qpos, qvel)
        self.renderer.update_scene(simulation.data, self.camera)
        return self.renderer.render()

    def close(self) -> None:
        self.renderer.close()
        self.env.close()


def caption_text(episode: int, episodes: int, step: int, episode_return: float) -> str:
    """"episode 2/3   step 417   return 1234.5"."""
    return f"episode {episode}/{episodes}   step {step}   return {episode_return:.1f}"


def recording_caption(recording: dict, row: int) -> str:
    """`caption_text` of row `row` of a loaded `Recording`."""
    return caption_text(recording["episode"][row], recording["episode"].max(),
                        recording["step"][row], recording["episode_return"][row])


def fit(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """`frame` [h, w, 3] resized to [height, width, 3] if it is not that size already."""
    if frame.shape[:2] == (height, width):
        return frame
    return np.asarray(Image.fromarray(frame).resize((width, height), Image.Resampling.BOX))


def caption(frame: np.ndarray, text: str) -> np.ndarray:
    """`frame` [height, width, 3] with `text` in white on a darkened box in its top-left
    corner, the text's size proportional to the frame's height."""
    size = max(10, frame.shape[0] // 24)
    margin = size // 2
    _, _, right, bottom = _font(size).getbbox(text)
    captioned = frame.copy()
    box = captioned[:bottom + 2 * margin, :right + 2 * margin]
    box //= 3
    band = Image.fromarray(box)
    ImageDraw.Draw(band).text((margin, margin), text, fill=(255, 255, 255), font=_font(size))
    box[:] = np.asarray(band)
    return captioned


@functools.lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.ImageFont:
    """Pillow's built-in font at `size` pixels (its bitmap font where FreeType is missing)."""
    return ImageFont.load_default(size=size)


def gif_frame_skip(fps: float) -> int:
    """Every how many frames the GIF keeps one, to play at real time and <= GIF_FPS."""
    return max(1, int(np.ceil(fps / GIF_FPS)))


def gif_frame(frame: np.ndarray) -> Image.Image:
    """`frame` shrunk to at most GIF_MAX_SIDE pixels a side, in 256 colours."""
    image = Image.fromarray(frame)
    scale = min(1.0, GIF_MAX_SIDE / max(image.size))
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BOX).quantize(
        colors=256, method=Image.Quantize.FASTOCTREE)


def write_gif(path: str, frames: List[Image.Image], seconds_per_frame: float) -> None:
    """An animated GIF that loops forever."""
    frames[0].save(path, save_all=True, append_images=frames[1:], loop=0,
                   duration=int(round(seconds_per_frame * 1000, -1)))


class FrameWriter:
    """Writes captioned frames [height, width, 3] uint8 to an MP4 (every frame, at `fps`)
    and/or an animated GIF (every `gif_frame_skip(fps)`-th frame, shrunk; written on
    `close`). Frames are numbered from 0 in the order they are shown."""

    def __init__(self, fps: float, video_path: Optional[str] = None,
                 gif_path: Optional[str] = None):
        self.fps = fps
        self.gif_path = gif_path
        self.gif_skip = gif_frame_skip(fps)
        self.gif_frames = []
        self.video = imageio.get_writer(video_path, fps=fps, macro_block_size=1,
                                        ffmpeg_params=MP4_ENCODER_OPTIONS) \
            if video_path else None

    def wants(self, index: int) -> bool:
        """Whether frame `index` goes into a file (the others need not be rendered)."""
        return self.video is not None or (bool(self.gif_path) and index % self.gif_skip == 0)

    def add(self, index: int, frame: np.ndarray, text: str) -> None:
        """Frame number `index` (one that `wants` it), captioned with `text`."""
        frame = caption(frame, text)
        if self.video is not None:
            self.video.append_data(frame)
        if self.gif_path and index % self.gif_skip == 0:
            self.gif_frames.append(gif_frame(frame))

    def close(self) -> None:
        if self.video is not None:
            self.video.close()
        if self.gif_path and self.gif_frames:
            write_gif(self.gif_path, self.gif_frames, self.gif_skip / self.fps)

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        self.close()


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
