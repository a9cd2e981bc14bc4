"""Replay a trained policy: `python -m run.enjoy RUN_DIR [--episodes 5] [--video out.mp4]`.

Rebuilds the policy from RUN_DIR/config.json alone, loads a checkpoint (the latest unless
--checkpoint says which), runs episodes and prints a table of their returns and lengths.
Videos and windows follow the agent in locomotion tasks; videos render offscreen with a fast
scene (no shadows, reflections or multisampling) unless --quality full.
"""
import argparse
import os
import re

import numpy as np

from onpolicy_flows.common.errors import UserError
from onpolicy_flows.replay.recording import QUALITIES, RenderRequest, RenderSettings
from onpolicy_flows.runs.cli import add_verbose_flag, main_guard

MAX_SIDE = 4096  # pixels


def resolution(text: str):
    """'WxH' -> (width, height): even numbers (the MP4 encoder needs them) up to MAX_SIDE."""
    match = re.fullmatch(r"(\d+)x(\d+)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 640x480")
    width, height = int(match[1]), int(match[2])
    if not all(16 <= side <= MAX_SIDE and side % 2 == 0 for side in (width, height)):
        raise argparse.ArgumentTypeError(
            f"{text!r}: width and height must be even numbers from 16 to {MAX_SIDE}")
    return width, height


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir",
                        help="a run directory written by run.trpo, run.acktr or run.ppo")
    parser.add_argument("--checkpoint", default=None,
                        help="iteration number, ckpt-N name or path (default: the latest)")
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="seed of the first reset")
    parser.add_argument("--deterministic", action="store_true",
                        help="act without sampling noise: the Gaussian's mean, the GMM's most "
                             "likely component mean, the flow's image of zero noise")
    parser.add_argument("--video", metavar="PATH.mp4", default=None,
                        help="record all episodes offscreen into this MP4, each frame "
                             "captioned with its episode, step and return so far")
    parser.add_argument("--gif", metavar="PATH.gif", default=None,
                        help="record all episodes into an animated GIF (at most 320 pixels a "
                             "side and 25 frames/s, for a README or a slide)")
    parser.add_argument("--quality", choices=QUALITIES, default=None,
                        help="scene of --video/--gif: fast (default) or MuJoCo's full scene "
                             "with shadows, reflections and multisampling (~10x slower)")
    parser.add_argument("--resolution", type=resolution, default=None, metavar="WxH",
                        help="frame size of --video/--gif (default 480x480)")
    parser.add_argument("--render", action="store_true",
                        help="show the episodes in a window (needs a display)")
    add_verbose_flag(parser)
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error("--episodes must be >= 1")
    recording = args.video or args.gif
    if recording and args.render:
        parser.error("choose --video/--gif or --render, not both")
    if (args.quality or args.resolution) and not recording:
        parser.error("--quality and --resolution apply to --video and --gif")
    for flag, path, suffix in (("--video", args.video, ".mp4"), ("--gif", args.gif, ".gif")):
        if path and not path.lower().endswith(suffix):
            parser.error(f"{flag} writes a {suffix} file; got {path!r}")
        if path and not os.path.isdir(os.path.dirname(path) or "."):
            raise UserError(f"{flag} {path}: directory {os.path.dirname(path)!r} does not exist")
    if args.render and not os.environ.get("DISPLAY"):
        raise UserError("--render needs a display (DISPLAY is not set); use --video PATH.mp4")
    return args


def episode_table(results) -> str:
    """Returns and lengths of each episode ((return, length) pairs), then their mean,
    standard deviation (population), minimum and maximum."""
    returns = np.array([episode_return for episode_return, _ in results])
    lengths = np.array([length for _, length in results])
    lines = [f"{'episode':>8} {'return':>10} {'length':>8}"]
    lines += [f"{index:>8} {r:>10.1f} {n:>8d}" for index, (r, n) in enumerate(results, 1)]
    for name, statistic in (("mean", np.mean), ("std", np.std), ("min", np.min),
                            ("max", np.max)):
        lines.append(f"{name:>8} {statistic(returns):>10.1f} {statistic(lengths):>8.1f}")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.video or args.gif:
        from onpolicy_flows.replay.rendering import select_offscreen_backend
        select_offscreen_backend()  # before anything imports mujoco
    from onpolicy_flows.replay.player import replay
    default = RenderSettings()
    width, height = args.resolution or (default.width, default.height)
    request = RenderRequest(args.video, args.gif, args.render,
                            RenderSettings(width, height, args.quality or default.quality))
    results = replay(args.run_dir, args.checkpoint, args.episodes, args.seed,
                     args.deterministic, request)
    print(episode_table(results))
    for path in (args.video, args.gif):
        if path:
            print(f"wrote {path}")


if __name__ == "__main__":
    main_guard(main)
