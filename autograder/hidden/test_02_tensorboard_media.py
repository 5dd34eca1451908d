"""Hidden checks for lesson 02: channels-last batches of another size and shape than the public
test's, so that a reshape fitted to (4, 12, 20, 3) or a hard-coded layout fails."""
import numpy as np

from watchtrain.artifacts.tensorboard import read_images
from watchtrain.grading import exercise, expect, expect_equal, expect_writers_closed, fail, read_run

TAG = "channels_last_batch"
BATCH_SHAPES = ((6, 9, 14, 3), (1, 16, 5, 3))  # N, H, W, C: H != W, and a batch of one


def _tensorboard_grid(batch: np.ndarray) -> np.ndarray:
    """add_images' grid for at most 8 images: side by side, no padding, H x W x C uint8."""
    return (np.concatenate(list(batch), axis=1) * 255).clip(0, 255).astype(np.uint8)


@exercise("log_channels_last_batch")
def test_hidden_log_channels_last_batch_other_shapes(lesson, tmp_path):
    for index, shape in enumerate(BATCH_SHAPES):
        batch = np.random.default_rng(7 + index).random(shape, dtype=np.float32)
        log_dir = tmp_path / f"logs_{index}"
        lesson.log_channels_last_batch(str(log_dir), batch.copy())
        images = read_run(read_images, log_dir, what=f"Reading the images written for a batch of shape {shape}.")
        if TAG not in images:
            fail(f"No image with the tag {TAG!r} for a batch of shape {shape}.", expected=TAG,
                 found=sorted(images) or "no image tags at all")
        event = images[TAG][-1]
        expected = _tensorboard_grid(batch)
        expect_equal((event.height, event.width), expected.shape[:2],
                     f"The (height, width) of the grid stored for a batch of shape {shape}")
        difference = np.abs(event.pixels[..., :3].astype(int) - expected.astype(int)).max()
        expect(difference <= 1, f"The pixels stored for a batch of shape {shape}",
               expected="every pixel within one grey level of the batch", found=f"a pixel off by {difference} levels",
               advice="Pass the array as it is, with dataformats='NHWC'; do not reshape or reorder it.")
        expect_writers_closed(log_dir)
