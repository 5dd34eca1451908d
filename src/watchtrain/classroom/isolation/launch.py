"""Set resource limits, then become the given command: `python -I -S launch.py DATA FSIZE -- CMD...`.

The limits must be in place before the learner's code runs, and subprocess's preexec_fn is not safe
in a grader that starts children from several threads; so the child starts as this tiny stdlib-only
script, which limits itself and execs. The limits are inherited by everything the command starts.
"""
import os
import resource
import sys


def main(argv: list[str]) -> None:
    data_bytes, file_bytes, separator, *command = argv
    assert separator == "--" and command, "usage: launch.py DATA_BYTES FILE_BYTES -- COMMAND..."
    apply_limits(int(data_bytes), int(file_bytes))
    os.execvp(command[0], command)


def apply_limits(data_bytes: int, file_bytes: int) -> None:
    """The limits of a graded run (zygote.py applies them to its forks too)."""
    # RLIMIT_DATA caps the memory a process can write to (heap and private mappings) without
    # capping address space that is only reserved: Chromium and CUDA reserve terabytes they never use.
    limit(resource.RLIMIT_DATA, data_bytes)
    # A file larger than this is refused with EFBIG (Python ignores SIGXFSZ): a disk-filling loop stops.
    limit(resource.RLIMIT_FSIZE, file_bytes)
    limit(resource.RLIMIT_CORE, 0)  # a segfault must not leave a core file behind


def limit(kind: int, value: int) -> None:
    """Lower both the soft and the hard limit (so the child cannot raise it again) to `value`."""
    _, hard = resource.getrlimit(kind)
    value = value if hard == resource.RLIM_INFINITY else min(value, hard)
    resource.setrlimit(kind, (value, value))


if __name__ == "__main__":
    main(sys.argv[1:])
