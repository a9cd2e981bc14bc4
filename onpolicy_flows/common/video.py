"""Rendering recorded MuJoCo states to an MP4, in a process of its own.

Mesa's software OpenGL (llvmpipe, what EGL and OSMesa use on a machine without a GPU) and
TensorFlow both carry LLVM, and rendering in a process that has loaded TensorFlow crashes
inside LLVM. So replays record each frame's simulator state (qpos, qvel) and this module,
which never imports TensorFlow, sets those states and renders them:

    python -m onpolicy_flows.common.video ENV_ID STATES.npz OUT.mp4
"""
import sys

import gymnasium as gym
import imageio
import numpy as np


def render_states(env_id: str, qpos: np.ndarray, qvel: np.ndarray, video_path: str) -> int:
    """Writes one frame per state (qpos [n, nq], qvel [n, nv]) to `video_path` at the env's
    own frame rate; returns the number of frames."""
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    fps = env.metadata.get("render_fps", 30)
    with imageio.get_writer(video_path, fps=fps, macro_block_size=1) as writer:
        for position, velocity in zip(qpos, qvel):
            env.unwrapped.set_state(position, velocity)
            writer.append_data(np.asarray(env.render()))
    env.close()
    return len(qpos)


def main(argv):
    env_id, states_path, video_path = argv
    states = np.load(states_path)
    render_states(env_id, states["qpos"], states["qvel"], video_path)


if __name__ == "__main__":
    main(sys.argv[1:])
