"""Replay a trained policy: `python -m run.enjoy RUN_DIR [--episodes 5] [--video out.mp4]`.

Rebuilds the policy from RUN_DIR/config.json alone, loads a checkpoint (the latest unless
--checkpoint says which), runs episodes and prints each one's return and length.
"""
import argparse
import os

from onpolicy_flows.common.cli import add_verbose_flag, main_guard
from onpolicy_flows.common.errors import UserError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", help="a run directory written by run.trpo or run.acktr")
    parser.add_argument("--checkpoint", default=None,
                        help="iteration number, ckpt-N name or path (default: the latest)")
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="seed of the first reset")
    parser.add_argument("--deterministic", action="store_true",
                        help="act without sampling noise: the Gaussian's mean, the GMM's most "
                             "likely component mean, the flow's image of zero noise")
    parser.add_argument("--video", metavar="PATH.mp4", default=None,
                        help="record the episodes offscreen to this MP4")
    parser.add_argument("--render", action="store_true", help="show a window (needs a display)")
    add_verbose_flag(parser)
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error("--episodes must be >= 1")
    if args.video and args.render:
        parser.error("choose --video or --render, not both")
    if args.render and not os.environ.get("DISPLAY"):
        raise UserError("--render needs a display (DISPLAY is not set); use --video PATH.mp4")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.video:
        from onpolicy_flows.common.rendering import select_offscreen_backend
        select_offscreen_backend()  # before anything imports mujoco
    from onpolicy_flows.replay import replay
    results = replay(args.run_dir, args.checkpoint, args.episodes, args.seed,
                     args.deterministic, args.video, "human" if args.render else None)
    for index, (episode_return, length) in enumerate(results):
        print(f"episode {index}: return {episode_return:.1f}, length {length}")
    returns = [episode_return for episode_return, _ in results]
    lengths = [length for _, length in results]
    print(f"mean return {sum(returns) / len(returns):.1f}, "
          f"mean length {sum(lengths) / len(lengths):.1f} over {len(results)} episodes")
    if args.video:
        print(f"video: {args.video}")


if __name__ == "__main__":
    main_guard(main)
