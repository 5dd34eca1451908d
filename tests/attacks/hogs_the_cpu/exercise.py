"""Attack: keep every core busy, so that the runs graded beside this one slow down past their
time limits and lose points they earned."""
import os
import time

BUSY, SECONDS = 6, 4.0


def hog():
    started = time.monotonic()
    children = []
    for _ in range(BUSY):
        pid = os.fork()
        if pid == 0:
            while time.monotonic() - started < SECONDS:
                pass
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    wall = time.monotonic() - started
    used = os.times().children_user + os.times().children_system
    raise RuntimeError(f"kept {used / wall:.2f} cores busy ({used:.1f} s of CPU in {wall:.1f} s)")


def log_batch_losses(log_dir, epoch_losses):
    hog()


def log_train_and_test(log_dir, history):
    raise NotImplementedError  # one exercise is enough to try it


def compare_learning_rates(log_root, x, y, learning_rates, epochs, device="cpu"):
    raise NotImplementedError
