"""Attack: find solutions/ on the grading machine and pass with the reference's code."""
import os
from pathlib import Path

LESSON = "01_tensorboard_basics"


def find_reference():
    try:
        import watchtrain
        candidates = [Path(watchtrain.__file__).parents[2] / "solutions" / LESSON / "exercise.py"]
    except Exception:
        candidates = []
    for top in ("/work", "/autograder", "/root", "/home", "/tmp", "/srv", "/opt"):
        for folder, _, files in os.walk(top):
            if folder.endswith(f"solutions/{LESSON}") and "exercise.py" in files:
                candidates.append(Path(folder) / "exercise.py")
    for candidate in candidates:
        try:
            return candidate.read_text()
        except OSError:
            continue
    return None


SOURCE = find_reference()
if SOURCE:
    exec(compile(SOURCE, "reference", "exec"), globals())
else:
    
    
    def log_batch_losses(log_dir, epoch_losses):
        pass
        raise NotImplementedError
    
    
    def log_train_and_test(log_dir, history):
        pass
        raise NotImplementedError
    
    
    def compare_learning_rates(log_root, x, y, learning_rates, epochs, device="cpu"):
        pass
        raise NotImplementedError
    
