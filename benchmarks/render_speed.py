"""Seconds to record a replay to MP4, fast vs full scene quality, side by side.

Times what `run.enjoy --video` does after the episodes have run: the rendering child process
(`python -m onpolicy_flows.replay.video`: its start-up, rendering, captions and MP4 encoding)
on a recording of `--steps` Hopper-v4 steps (random actions, reset when the hopper falls),
and the frame rate of rendering alone in this process. No TensorFlow is loaded.

    python benchmarks/render_speed.py --steps 1000 --resolution 480x480
"""
import argparse
import os
import subprocess
import tempfile
import time

from onpolicy_flows.replay.recording import (
    QUALITIES,
    Recording,
    RenderRequest,
    RenderSettings,
    render_command,
)
from onpolicy_flows.replay.rendering import select_offscreen_backend


def random_recording(env_id: str, steps: int) -> Recording:
    """`steps` steps (steps + 1 frames) with random actions."""
    import gymnasium as gym
    env = gym.make(env_id)
    env.action_space.seed(0)
    env.reset(seed=0)
    recording, episode, step, episode_return = Recording(), 1, 0, 0.0
    data = env.unwrapped.data
    recording.add(data.qpos, data.qvel, episode, step, episode_return)
    for _ in range(steps):
        _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        step, episode_return = step + 1, episode_return + float(reward)
        recording.add(data.qpos, data.qvel, episode, step, episode_return)
        if terminated or truncated:
            env.reset()
            episode, step, episode_return = episode + 1, 0, 0.0
    env.close()
    return recording


def recording_seconds(env_id: str, recording_path: str, request: RenderRequest) -> float:
    """Wall-clock seconds of the rendering child that `run.enjoy --video` starts."""
    start = time.perf_counter()
    subprocess.run(render_command(env_id, None, recording_path, request), check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def frames_per_second(env_id: str, recording: dict, settings: RenderSettings,
                      frames: int) -> float:
    """Rendering alone (set the state, update the scene, render, read the pixels)."""
    from onpolicy_flows.replay.video import FrameRenderer
    renderer = FrameRenderer(env_id, settings)
    renderer.render(recording["qpos"][0], recording["qvel"][0])  # first-frame set-up
    start = time.perf_counter()
    for row in range(frames):
        renderer.render(recording["qpos"][row], recording["qvel"][row])
    elapsed = time.perf_counter() - start
    renderer.close()
    return frames / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="Hopper-v4")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--resolution", default="480x480", metavar="WxH")
    parser.add_argument("--fps-frames", type=int, default=200,
                        help="frames timed for the rendering-alone frame rate")
    args = parser.parse_args()
    width, height = map(int, args.resolution.split("x"))
    print(f"MUJOCO_GL={select_offscreen_backend()}, load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    recording = random_recording(args.env, args.steps)
    print(f"{args.env}: {len(recording)} frames at {width}x{height}")
    print(f"{'quality':>8} {'recording s':>12} {'frames/s':>9} {'render-only frames/s':>21}")
    with tempfile.TemporaryDirectory() as scratch:
        recording_path = os.path.join(scratch, "recording.npz")
        recording.save(recording_path)
        arrays = Recording.load(recording_path)
        for quality in QUALITIES:
            settings = RenderSettings(width, height, quality)
            request = RenderRequest(video_path=os.path.join(scratch, f"{quality}.mp4"),
                                    settings=settings)
            seconds = recording_seconds(args.env, recording_path, request)
            rate = frames_per_second(args.env, arrays, settings,
                                     min(args.fps_frames, len(recording)))
            print(f"{quality:>8} {seconds:>12.1f} {len(recording) / seconds:>9.1f} "
                  f"{rate:>21.1f}")


if __name__ == "__main__":
    main()
