"""Captioned frames into files: an MP4 at the env's frame rate and an animated GIF small
enough for a README or a slide. Used by `replay.video` and by replays of envs that render
their own frames (pybullet's)."""
import functools
from typing import List, Optional

import imageio
import numpy as np
from PIL import Image, ImageDraw, ImageFont

MP4_ENCODER_OPTIONS = ["-preset", "superfast"]  # x264: ~3x faster than its default preset
GIF_MAX_SIDE = 320  # pixels
GIF_FPS = 25  # frames per second at most (GIF delays are whole hundredths of a second)


def caption_text(episode: int, episodes: int, step: int, episode_return: float) -> str:
    """"episode 2/3   step 417   return 1234.5"."""
    return f"episode {episode}/{episodes}   step {step}   return {episode_return:.1f}"


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
