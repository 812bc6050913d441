"""Frames to files: a caption strip above each frame, then an MP4 (H.264, through the ffmpeg
that imageio-ffmpeg ships) and a GIF, written as the frames come.

The MP4 keeps every frame at the episode's own pace. The GIF is the preview that shows
anywhere (a Markdown report, a notebook, a chat): it keeps every `gif_every`-th frame
and shows them at the MP4's rate, so it plays `gif_every` times faster and is that much
smaller. Its frames wait in memory, reduced to 256 colours, until it is written.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FORMATS = ("mp4", "gif")
STATUS_COLOURS = {"running": (235, 235, 235), "success": (90, 220, 110), "fell": (255, 95, 85)}
STRIP_BACKGROUND = (28, 30, 34)


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size)


def caption(frame: np.ndarray, title: str, line: str, status: str = "running") -> np.ndarray:
    """`frame` under a dark strip of two lines: `title`, and `line` in the colour of
    `status` (running, success, fell). The strip's height is even, as H.264 needs."""
    height, width = frame.shape[:2]
    size = max(9, min(14, height // 18))
    strip = Image.new("RGB", (width, 2 * (int(2.6 * size) // 2)), STRIP_BACKGROUND)
    draw = ImageDraw.Draw(strip)
    for row, (text, colour) in enumerate([(title, (170, 175, 185)), (line, STATUS_COLOURS[status])]):
        font = _font(size)
        while draw.textlength(text, font=font) > width - 8 and font.size > 7:  # shrink a long line to fit
            font = _font(font.size - 1)
        draw.text((4, 1 + row * 1.25 * size), text, fill=colour, font=font)
    return np.concatenate([np.asarray(strip), frame])


class Recording:
    """`add` each frame, then `close()`: `<stem>.mp4` and/or `<stem>.gif` (`formats`),
    at `fps` frames per second of the episode."""

    def __init__(self, stem: str | Path, fps: float, formats: tuple[str, ...] = FORMATS, gif_every: int = 2):
        if not formats or set(formats) - set(FORMATS):
            raise ValueError(f"formats are {', '.join(FORMATS)}; got {', '.join(formats) or 'none'}")
        if gif_every < 1:
            raise ValueError(f"gif_every must be at least 1, got {gif_every}")
        self.fps, self.formats, self.gif_every = fps, tuple(formats), gif_every
        stem = Path(stem)
        stem.parent.mkdir(parents=True, exist_ok=True)
        self.paths = {f: stem.parent / f"{stem.name}.{f}" for f in FORMATS}  # a run's name has dots (ζ 0.9)
        self._mp4 = None
        self._gif: list[Image.Image] = []
        self._added = 0

    def add(self, draw: Callable[[], np.ndarray]) -> None:
        """The next frame: `draw()` makes it, called only when a file keeps it (a GIF alone
        keeps every `gif_every`-th)."""
        into_gif = "gif" in self.formats and self._added % self.gif_every == 0
        self._added += 1
        if "mp4" not in self.formats and not into_gif:
            return
        frame = draw()
        if "mp4" in self.formats:
            if self._mp4 is None:
                import imageio.v2 as imageio

                # macro_block_size 2: any even size as it is (yuv420p, which every player reads, needs even sizes)
                self._mp4 = imageio.get_writer(self.paths["mp4"], fps=self.fps, codec="libx264",
                                               pixelformat="yuv420p", macro_block_size=2, quality=7,
                                               output_params=["-preset", "veryfast"])
            self._mp4.append_data(frame)
        if into_gif:
            self._gif.append(Image.fromarray(frame).quantize(256, method=Image.Quantize.FASTOCTREE,
                                                             dither=Image.Dither.NONE))

    def close(self) -> list[Path]:
        """Finish the files; returns their paths (none if no frame was added)."""
        written = []
        if self._mp4 is not None:
            self._mp4.close()
            written.append(self.paths["mp4"])
        if self._gif:
            path = self.paths["gif"]
            self._gif[0].save(path, save_all=True, append_images=self._gif[1:], duration=1000 / self.fps, loop=0)
            written.append(path)
            self._gif = []
        return written
