"""Back a warm process's memory with 2 MiB pages, so that the processes forked from it start and end cheaply.

Stdlib only: zygote.py imports it by path, beside itself.

After importing torch & co., a process holds about 400 MB of anonymous memory in 4 KiB pages. A
fork copies one page-table entry for each of them, and the fork's exit tears them all down: 40 to
60 ms of kernel time for every graded run, learner worker and call forked from it. Collapsed into
2 MiB pages (`madvise(MADV_COLLAPSE)`, Linux 6.1), the same memory is 512 times fewer entries, and
a fork with its exit costs about 15 ms. A page the fork then writes is split and copied 4 KiB at a
time, as before, so no process copies or is charged more memory than it writes.

Collapsing costs 1 to 2 s of kernel time, once (more for a zygote that preloaded the whole course):
worth it in a process that forks for a whole batch or a whole `watchtrain watch`, not for a single
submission. Measured: a zygote of the whole course saved 0.8 s of CPU on each later run that graded
nine lessons, and nothing measurable on runs of one or two lessons; so the zygote collapses once it
has forked its second run. Where the kernel lacks it, or transparent huge pages are off, nothing
changes.
"""
import ctypes
import ctypes.util

MADV_HUGEPAGE, MADV_COLLAPSE = 14, 25
HUGE_PAGE = 2 << 20


def back_with_huge_pages() -> int:
    """Collapse this process's heap and anonymous mappings into huge pages; the bytes collapsed."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        madvise = libc.madvise
    except (OSError, AttributeError):
        return 0
    madvise.argtypes, madvise.restype = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int], ctypes.c_int
    collapsed = 0
    for start, end in _private_anonymous_mappings():
        start, end = -(-start // HUGE_PAGE) * HUGE_PAGE, end // HUGE_PAGE * HUGE_PAGE  # whole huge pages inside
        if end > start and madvise(start, end - start, MADV_HUGEPAGE) == 0 \
                and madvise(start, end - start, MADV_COLLAPSE) == 0:
            collapsed += end - start
    return collapsed


def _private_anonymous_mappings():
    """(start, end) of the writable mappings backed by no file: the heap, malloc's and Python's arenas."""
    try:
        with open("/proc/self/maps", encoding="ascii") as maps:
            lines = maps.readlines()
    except OSError:
        return
    for line in lines:
        fields = line.split()
        if len(fields) >= 5 and fields[1] == "rw-p" and fields[4] == "0" and fields[5:] in ([], ["[heap]"]):
            start, end = (int(address, 16) for address in fields[0].split("-"))
            yield start, end
