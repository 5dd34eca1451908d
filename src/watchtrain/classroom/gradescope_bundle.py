"""`watchtrain gradescope build`: a Gradescope autograder bundle that runs this grader.

The zip holds setup.sh and run_autograder at its root (Gradescope's contract) and the course's
grading parts: manifest, autograder (hidden tests included unless told otherwise), the watchtrain
package, the bundled data and the install files. No solutions, no lessons, no project tests.
"""
from __future__ import annotations

import shlex
import stat
import zipfile
from pathlib import Path

from watchtrain.classroom.course_files import course_files, fill
from watchtrain.classroom.isolation.sandbox import Limits
from watchtrain.course import Course
from watchtrain.grading.options import HIDDEN_DIR

BUNDLE_PARTS = ("course.toml", "pyproject.toml", "constraints.txt", "Makefile", "README.md",
                "autograder", "src", "data", "tools")
SCRIPTS = {"setup.sh": "gradescope_setup.sh", "run_autograder": "gradescope_run_autograder"}


def build_bundle(course: Course, out: Path, *, hidden: bool = True, lessons: tuple[str, ...] = (),
                 hidden_visibility: str = "after_due_date", limits: Limits = Limits()) -> list[str]:
    """Write the bundle to `out` (a .zip); return the names inside it."""
    options = ["--hidden" if hidden else "--no-hidden", "--hidden-visibility", hidden_visibility,
               "--test-timeout", f"{limits.test_timeout:g}", "--submission-timeout", f"{limits.submission_timeout:g}",
               "--memory-mb", str(limits.memory_mb), *(["--lessons", *lessons] if lessons else [])]
    out.parent.mkdir(parents=True, exist_ok=True)
    names = []
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, template in SCRIPTS.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | 0o755) << 16  # executable once unzipped
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, fill(template, options=" " + shlex.join(options)) if name == "run_autograder"
                            else fill(template))
            names.append(name)
        skip = () if hidden else (f"autograder/{HIDDEN_DIR}",)
        for relative, path in course_files(course.root, BUNDLE_PARTS, skip=skip):
            bundle.write(path, relative)
            names.append(relative)
    return names
