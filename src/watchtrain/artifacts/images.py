"""Opening the pictures an artifact holds (PNG in event files and projector sprites, PNG or JPEG in
Visdom windows), refusing what no lesson writes.

A few hundred bytes of PNG can claim 50,000 x 50,000 pixels, which decode to gigabytes; Pillow only
warns up to 179 million pixels. And Pillow tries every format it knows, some of which run other
programs (its EPS reader runs Ghostscript).
"""
from __future__ import annotations

import os
import warnings
from typing import IO

from PIL import Image

MAX_PIXELS = 8192 * 8192  # the embedding projector's limit for a sprite; a lesson's pictures are far smaller
_MOST = f"more than the {MAX_PIXELS:,} a lesson's picture may have"


def open_image(source: str | os.PathLike[str] | IO[bytes], formats: tuple[str, ...]) -> Image.Image:
    """Image.open for a picture in one of `formats`, at most MAX_PIXELS in size, not yet decoded.

    Raises OSError, as Pillow does for a picture it cannot read, for any other.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked below
        try:
            image = Image.open(source, formats=formats)
        except Image.DecompressionBombError:  # over twice Pillow's limit
            raise OSError(f"it claims more than {2 * Image.MAX_IMAGE_PIXELS:,} pixels, {_MOST}") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        image.close()
        raise OSError(f"it is {width} x {height} pixels, {_MOST}")
    return image
