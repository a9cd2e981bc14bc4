"""What a replay hands to the process that renders it (`replay.video`): the recorded states,
the render settings and that process's command line. Imports neither TensorFlow nor MuJoCo."""
import dataclasses
import json
import sys
from typing import List, Optional

import numpy as np

QUALITIES = ("fast", "full")


@dataclasses.dataclass(frozen=True)
class RenderSettings:
    """Frame size in pixels and scene quality of videos: "fast" (no shadows, reflections,
    multisampling, skybox or haze) or "full" (MuJoCo's scene as the model describes it)."""
    width: int = 480
    height: int = 480
    quality: str = "fast"


class Recording:
    """What a replay did, one row per frame (after each reset and after each step): the
    simulator state and the episode number (from 1), step and return so far that its
    caption shows. Saved as an .npz with arrays qpos [n, nq], qvel [n, nv], episode, step,
    episode_return [n]."""

    FIELDS = ("qpos", "qvel", "episode", "step", "episode_return")

    def __init__(self):
        self.rows = {name: [] for name in self.FIELDS}

    def __len__(self) -> int:
        return len(self.rows["qpos"])

    def add(self, qpos: np.ndarray, qvel: np.ndarray, episode: int, step: int,
            episode_return: float) -> None:
        for name, value in zip(self.FIELDS, (np.array(qpos), np.array(qvel), episode, step,
                                             episode_return)):
            self.rows[name].append(value)

    def save(self, path: str) -> None:
        np.savez(path, **{name: np.asarray(values) for name, values in self.rows.items()})

    @staticmethod
    def load(path: str) -> dict:
        """The saved arrays by name."""
        with np.load(path) as arrays:
            return {name: arrays[name] for name in Recording.FIELDS}


@dataclasses.dataclass(frozen=True)
class RenderRequest:
    """Where a replay's frames go: an MP4, an animated GIF and/or a window; `settings` apply
    to the files."""
    video_path: Optional[str] = None
    gif_path: Optional[str] = None
    window: bool = False
    settings: RenderSettings = RenderSettings()

    def __bool__(self) -> bool:
        return bool(self.video_path or self.gif_path or self.window)


def render_command(env_id: str, env_kwargs: Optional[dict], recording_path: str,
                   request: RenderRequest) -> List[str]:
    """The command that renders a saved `Recording` of `env_id` (made with `env_kwargs`) as
    `request` says."""
    settings = request.settings
    command = [sys.executable, "-m", "onpolicy_flows.replay.video", env_id, recording_path,
               "--env-kwargs", json.dumps(env_kwargs or {}), "--width", str(settings.width),
               "--height", str(settings.height), "--quality", settings.quality]
    if request.video_path:
        command += ["--video", request.video_path]
    if request.gif_path:
        command += ["--gif", request.gif_path]
    if request.window:
        command.append("--window")
    return command
