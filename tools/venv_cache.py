"""A copy of each finished .venv, so that a fresh clone's `make setup` takes seconds, not a minute.

    python tools/venv_cache.py save .venv --torch default     # after a full set-up succeeded
    python tools/venv_cache.py restore .venv --torch default  # exit status 0: .venv is there now

A set-up is the same wherever the inputs are the same: the Makefile (how it installs),
constraints.txt and pyproject.toml (what), the Python that makes .venv, the machine's architecture
and the PyTorch build asked for (TORCH=). Those inputs, hashed, name a copy in
$WATCHTRAIN_VENV_CACHE (by default ~/.cache/watchtrain/venvs). Of a full set-up's 25 to 50 s, uv's
compilation of 13,000 files of bytecode takes 15 to 20 s, and it would be the same bytes again.

The copy is made of hard links, as uv's own cache shares its files with .venv: it costs no disk
space while the clone that made it lives, and a restore takes about a second. A restored .venv is
the one a full set-up would have made there: the few files in which installers write the set-up's
own path (the scripts' first line, activate, pyvenv.cfg, the course's editable .pth and its
direct_url.json) are rewritten as new files for the new folder, never edited in place, so the
copy stays as it was. The bytecode files name their old source path, which Python replaces with
the file's real path as it loads them. A restore that does not import the course from the new
folder is removed, and the full set-up runs.

Only a missing .venv is restored (a fresh clone, or after `rm -rf .venv`): one that exists, even
an outdated one, is updated by the full set-up as before. The 3 copies used last are kept.
`make setup VENV_CACHE=off` skips the cache both ways. Standard library only: it runs before .venv exists.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

COURSE = Path(__file__).resolve().parents[1]
INPUTS = ("Makefile", "constraints.txt", "pyproject.toml", "tools/venv_cache.py")
KEEP = 3
ABANDONED_AFTER_S = 3600  # a partial copy this old was left by a save that was killed
ORIGIN = "origin.json"  # beside the copy: the folder it was made in, and the files that name it


def cache_root() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "watchtrain" / "venvs"
    return Path(os.environ.get("WATCHTRAIN_VENV_CACHE") or default)


def set_up_key(torch: str) -> str:
    """What makes two set-ups the same: their inputs' bytes, the Python, the machine, the PyTorch build."""
    digest = hashlib.sha256()
    for name in INPUTS:
        digest.update(name.encode() + b"\0" + (COURSE / name).read_bytes() + b"\0")
    digest.update(f"{sys.version}\0{os.path.realpath(sys.executable)}\0{platform.machine()}\0{torch}".encode())
    return digest.hexdigest()[:20]


def files_naming(venv: Path, folder: str) -> list[str]:
    """The files of `venv` that installers write `folder` into (relative paths): every script in
    bin/, pyvenv.cfg, the .pth files and each distribution's direct_url.json."""
    candidates = [*venv.glob("bin/*"), venv / "pyvenv.cfg", *venv.glob("lib/python*/site-packages/*.pth"),
                  *venv.glob("lib/python*/site-packages/*.dist-info/direct_url.json")]
    needle = folder.encode()
    return sorted(str(path.relative_to(venv)) for path in candidates
                  if path.is_file() and not path.is_symlink() and needle in path.read_bytes())


def save(venv: Path, torch: str) -> None:
    root = cache_root()
    copy = root / set_up_key(torch)
    if copy.exists():
        return
    root.mkdir(parents=True, exist_ok=True)
    partial = root / f".partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        subprocess.run(["cp", "-al", str(venv), str(partial / "venv")], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as error:  # another disk: hard links cannot cross it
        shutil.rmtree(partial, ignore_errors=True)
        print(f"note: no copy of .venv kept for the next fresh clone ({_why(error)})")
        return
    for stamp in (partial / "venv").glob(".*"):  # make's stamps: each clone touches its own
        if stamp.is_file():
            stamp.unlink()
    folder = str(venv.resolve().parent)
    (partial / ORIGIN).write_text(json.dumps({"folder": folder, "files": files_naming(venv, folder)}))
    try:
        partial.rename(copy)
    except OSError:  # another set-up saved the same copy meanwhile
        shutil.rmtree(partial, ignore_errors=True)
    _forget_all_but_the_last_used(root)


def restore(venv: Path, torch: str) -> bool:
    copy = cache_root() / set_up_key(torch)
    if venv.exists() or not (copy / ORIGIN).is_file():
        return False
    started = time.monotonic()
    origin = json.loads((copy / ORIGIN).read_text())
    folder = str(venv.resolve().parent)
    partial = venv.with_name(venv.name + ".restoring")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        subprocess.run(["cp", "-al", str(copy / "venv"), str(partial)], check=True, capture_output=True)
        for name in origin["files"]:
            _rewrite(partial / name, origin["folder"], folder)
        partial.rename(venv)
    except (OSError, subprocess.CalledProcessError) as error:
        shutil.rmtree(partial, ignore_errors=True)
        print(f"note: .venv could not be restored from {copy} ({_why(error)}); installing it instead")
        return False
    if not _imports_the_course_from(venv, Path(folder)):
        shutil.rmtree(venv, ignore_errors=True)
        print(f"note: the .venv restored from {copy} did not import this clone's course; installing it instead")
        return False
    if _modified(copy) is not None:  # another clone's set-up may have just removed it
        os.utime(copy)  # used last: kept longest
    print(f"restored .venv in {time.monotonic() - started:.1f} s from {copy}, the set-up of an identical "
          f"clone (hard links; `make setup VENV_CACHE=off` installs it afresh)")
    return True


def _rewrite(path: Path, old: str, new: str) -> None:
    """The file with `old` replaced by `new`, written as a new file: the cached one is left as it was."""
    fresh = path.with_name(path.name + ".relocating")
    fresh.write_bytes(path.read_bytes().replace(old.encode(), new.encode()))
    shutil.copymode(path, fresh)
    os.replace(fresh, path)


def _imports_the_course_from(venv: Path, folder: Path) -> bool:
    check = "import watchtrain, sys; sys.stdout.write(watchtrain.__file__)"
    done = subprocess.run([str(venv / "bin" / "python"), "-c", check], capture_output=True, text=True)
    return done.returncode == 0 and Path(done.stdout).resolve().is_relative_to(folder / "src")


def _forget_all_but_the_last_used(root: Path) -> None:
    """Keep the KEEP copies used last, and remove what a save killed midway left: a save takes
    seconds, so a partial copy an hour old is no save still running (whatever its process id
    means here: the cache may be shared with another container)."""
    dated = [(_modified(path), path) for path in root.iterdir() if path.is_dir() and not path.name.startswith(".")]
    copies = [path for _, path in sorted(((modified, path) for modified, path in dated if modified is not None),
                                         reverse=True)]
    abandoned = [path for path in root.glob(".partial-*")
                 if time.time() - (_modified(path) or time.time()) > ABANDONED_AFTER_S]
    for old in copies[KEEP:] + abandoned:
        shutil.rmtree(old, ignore_errors=True)


def _modified(path: Path) -> float | None:
    """When `path` last changed, or None when it is gone: the set-up of another clone that shares
    the cache may have removed it since it was listed."""
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return None


def _why(error: Exception) -> str:
    """The first line of what went wrong (cp says it once per file: 47,000 lines for one .venv)."""
    lines = str(error).splitlines()
    if isinstance(error, subprocess.CalledProcessError):
        lines = (error.stderr or b"").decode(errors="replace").strip().splitlines() or lines
    more = f" (and {len(lines) - 1} more like it)" if len(lines) > 1 else ""
    return (lines[0] if lines else type(error).__name__) + more


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("save", "restore"))
    parser.add_argument("venv", type=Path)
    parser.add_argument("--torch", default="default")
    options = parser.parse_args()
    if options.action == "save":
        save(options.venv, options.torch)
        return 0
    return 0 if restore(options.venv, options.torch) else 1


if __name__ == "__main__":
    sys.exit(main())
