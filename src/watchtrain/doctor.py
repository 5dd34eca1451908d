"""`watchtrain doctor`: is this machine ready for the course? Each finding says how to fix it.

Every check is a small function returning findings, so each can be tested on its own. Nothing here
imports torch: the torch/torchvision check runs in a child process, because a broken pair can
crash the interpreter that loads it, and the doctor must still report.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from watchtrain.servers.ports import port_is_free

OK, INFO, WARN, FAIL = "ok", "info", "warn", "FAIL"
SETUP = "`make setup` (or `pip install -c constraints.txt -e \".[all,dev,notebooks]\"`)"
# The dashboards' usual ports: `demo --serve` falls back to free ones, but a learner's own commands
# (and the tutorials they follow) use these.
CHROMIUM_ENV = "WATCHTRAIN_CHROMIUM"
DASHBOARD_PORTS = {6006: "TensorBoard", 8097: "Visdom", 8080: "Netron"}
_TORCH_PROBE = """
import json, torch, torchvision
boxes = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 0.9]])
torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8]), 0.5)  # needs torchvision's compiled operators
cuda = torch.cuda.is_available()
print(json.dumps({"torch": torch.__version__, "torchvision": torchvision.__version__, "cuda": cuda,
                  "cuda_version": torch.version.cuda,
                  "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else []}))
"""


@dataclass(frozen=True)
class Finding:
    status: str  # ok | info | warn | FAIL
    what: str
    fix: str = ""


def python_version(course_root: Path) -> list[Finding]:
    current = ".".join(map(str, sys.version_info[:3]))
    required = _pyproject(course_root).get("project", {}).get("requires-python", "")
    tested = re.search(r"Python (\d+\.\d+)", _read(course_root / "constraints.txt"))
    if required and current not in SpecifierSet(required):
        return [Finding(FAIL, f"Python {current}: the course needs Python {required}",
                        f"install a newer Python (3.11 is what CI tests) and re-run {SETUP}")]
    note = f" (CI tests {tested.group(1)})" if tested and not current.startswith(tested.group(1) + ".") else ""
    return [Finding(OK, f"Python {current} ({sys.executable}){note}")]


def package_versions(course_root: Path) -> list[Finding]:
    """The course's dependencies against the exact versions in constraints.txt."""
    pins = constraint_pins(course_root / "constraints.txt")
    findings, matching = [], 0
    for requirement, optional in _requirements(course_root):
        name = canonicalize_name(requirement.name)
        try:
            installed = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            pinned = f"=={pins[name]}" if name in pins else ""
            findings.append(Finding(WARN if optional else FAIL, f"{requirement.name} is not installed"
                                    + (" (some lessons or tools need it)" if optional else ""),
                                    f"{SETUP}; or just `pip install {requirement.name}{pinned}`"))
            continue
        if name in pins and installed != pins[name]:
            findings.append(Finding(WARN, f"{requirement.name} {installed} is installed; constraints.txt "
                                    f"pins {pins[name]}, the version the course is tested with",
                                    f"`pip install -c constraints.txt {requirement.name}=={pins[name]}`"))
        elif requirement.specifier and installed not in requirement.specifier:
            findings.append(Finding(FAIL, f"{requirement.name} {installed} is installed; the course needs "
                                    f"{requirement.name}{requirement.specifier}", SETUP))
        else:
            matching += 1
    if not pins:
        findings.append(Finding(WARN, f"{course_root / 'constraints.txt'} is missing or empty",
                                "`git checkout -- constraints.txt`"))
    return [Finding(OK, f"{matching} packages match constraints.txt"), *findings]


def torch_stack(timeout: float = 180) -> list[Finding]:
    """torch and torchvision load together (a CPU-only torch cannot load a CUDA-linked torchvision), plus the GPU."""
    fix = ("torch and torchvision must come as a matching pair: "
           "`pip install -c constraints.txt torch torchvision` (or `make setup`)")
    try:
        probe = subprocess.run([sys.executable, "-c", _TORCH_PROBE], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [Finding(FAIL, f"importing torch and torchvision took over {timeout:.0f} s", fix)]
    if probe.returncode != 0:
        lines = [line for line in probe.stderr.strip().splitlines() if line.strip()]
        return [Finding(FAIL, f"torch and torchvision do not load together: {lines[-1] if lines else 'crashed'}", fix)]
    info = json.loads(probe.stdout.strip().splitlines()[-1])
    findings = [Finding(OK, f"torch {info['torch']} and torchvision {info['torchvision']} load together")]
    if info["cuda"]:
        findings.append(Finding(OK, f"GPU visible: {', '.join(info['devices'])} (CUDA {info['cuda_version']}); "
                                "the `gpu` checks run too"))
    elif shutil.which("nvidia-smi"):
        findings.append(Finding(WARN, "an NVIDIA driver is present but this torch sees no GPU "
                                f"(torch {info['torch']} is {'CPU-only' if not info['cuda_version'] else 'built for CUDA ' + info['cuda_version']})",
                                "install a CUDA build of torch matching your driver (pytorch.org/get-started), "
                                "with the torchvision that goes with it; the course itself runs fine on CPU"))
    else:
        findings.append(Finding(INFO, "no GPU visible: everything runs on the CPU, and the `gpu` checks are "
                                "skipped (they carry no points)"))
    return findings


def graphviz_dot() -> list[Finding]:
    dot = shutil.which("dot")
    if dot is None:
        return [Finding(WARN, "Graphviz `dot` not found: torchviz cannot render model graphs (lesson on model "
                        "visualisation)", "Debian/Ubuntu `sudo apt-get install graphviz`; macOS `brew install graphviz`; "
                        "or `make setup` as root")]
    version = _first_line([dot, "-V"])
    return [Finding(OK, f"Graphviz: {version or dot}")]


class BrowserUnavailable(Exception):
    """No usable Chromium; the message says how to install one."""


def chromium_path() -> str:
    """The Chromium the browser checks drive: $WATCHTRAIN_CHROMIUM, or the first on PATH."""
    for candidate in (os.environ.get(CHROMIUM_ENV), "chromium", "chromium-browser", "google-chrome"):
        found = candidate and shutil.which(candidate)
        if found:
            return found
    raise BrowserUnavailable("no Chromium found: install it with `sudo apt-get install chromium` "
                             f"(or `make setup` as root), or point {CHROMIUM_ENV} at a Chrome/Chromium binary")


def chromium() -> list[Finding]:
    try:
        path = chromium_path()
    except BrowserUnavailable as err:
        return [Finding(WARN, "Chromium not found: the project's browser checks of the dashboards are skipped",
                        str(err).removeprefix("no Chromium found: "))]
    findings = [Finding(OK, f"Chromium: {_first_line([path, '--version']) or path}")]
    if importlib.util.find_spec("playwright") is None:
        findings.append(Finding(WARN, "the Python package playwright is missing, so the browser checks cannot "
                                "drive Chromium", "`pip install -c constraints.txt playwright` (no `playwright "
                                "install` needed: the system Chromium is used)"))
    return findings


def cjk_font() -> list[Finding]:
    """Whether the browser has a font for CJK characters: Netron writes tensor shapes between U+3008
    and U+3009, and Korean tags need Hangul. Told by fontconfig's `fc-list`; nothing where it is missing."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        fonts = subprocess.run([fc_list, ":charset=3008"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    if fonts.strip():
        first = fonts.splitlines()[0]  # "<path>: <family>,<its other names>:style=..."
        return [Finding(OK, f"a CJK font: {first.split(': ', 1)[-1].split(',')[0].split(':')[0]}")]
    return [Finding(WARN, "no CJK font: the browser draws Netron's tensor shapes and Korean text as empty boxes",
                    "Debian/Ubuntu `sudo apt-get install fonts-nanum`, or `make setup` as root")]


def visdom_assets() -> list[Finding]:
    from watchtrain.servers.visdom_assets import AssetError, missing_assets, static_dir

    try:
        static = static_dir()
    except AssetError:
        return [Finding(WARN, "visdom is not installed (the Visdom lesson needs it)",
                        "`make setup`, or `pip install \"setuptools<81\" wheel && "
                        "pip install --no-build-isolation -c constraints.txt visdom`")]
    missing = missing_assets(static)
    if missing:
        names = ", ".join(sorted({Path(asset.target).name for asset in missing})[:4])
        return [Finding(WARN, f"{len(missing)} of Visdom's web assets are missing ({names}, ...): the server "
                        "works from Python, but its page in the browser stays blank",
                        "`watchtrain visdom --install-assets` (from the npm registry; `make setup` does it too)")]
    return [Finding(OK, f"Visdom's web assets are in {static}")]


def tensorflow_trap() -> list[Finding]:
    if importlib.util.find_spec("tensorflow") is None:
        return [Finding(OK, "TensorFlow is not installed beside TensorBoard (the course does not need it)")]
    return [Finding(WARN, "TensorFlow is installed beside TensorBoard. With it, torch's "
                    "`SummaryWriter.add_embedding` (the projector) fails with \"module 'tensorflow.io.gfile' has no "
                    "attribute 'get_filesystem'\", the trap that old tutorials patch with `tf.io.gfile = "
                    "tb.compat.tensorflow_stub.io.gfile`",
                    "use a virtual environment without TensorFlow for this course (`make setup` makes one), "
                    "or `pip uninstall tensorflow`")]


def free_ports(ports: dict[int, str] = DASHBOARD_PORTS) -> list[Finding]:
    findings = []
    for port, tool in ports.items():
        if port_is_free(port):
            findings.append(Finding(OK, f"port {port} ({tool}'s default) is free on 127.0.0.1"))
        else:
            findings.append(Finding(WARN, f"port {port} ({tool}'s default) is already in use: commands that name "
                                    "it will fail (`watchtrain demo --serve` picks a free port itself)",
                                    f"see what holds it with `lsof -i :{port}` (or `ss -ltnp 'sport = :{port}'`) and "
                                    f"stop it, or pass another port (e.g. `--port {port + 1}`)"))
    return findings


def grading_isolation() -> list[Finding]:
    """The layers around the learner worker (classroom/isolation/jail.py), and what is unprotected."""
    from watchtrain.classroom.isolation.jail import probe_layers, unprotected

    layers = probe_layers()
    findings = [Finding(OK if line.startswith("  [on ") else WARN, line.strip()) for line in layers.describe()
                if not line.strip().startswith("note:")]
    missing = unprotected(layers)
    if missing:
        findings.append(Finding(INFO, "Grading still works; without these layers " + "; ".join(missing) + ".",
                                "Grade untrusted submissions as root (CI, Gradescope, or `sudo watchtrain grade`) on "
                                "Linux, or where user namespaces are allowed (sysctl kernel.unprivileged_userns_clone=1)"))
    return findings


def run_checks(course_root: Path) -> list[tuple[str, list[Finding]]]:
    """Every check, in the order they are shown, as (section, findings)."""
    return [
        ("Python and packages", python_version(course_root) + package_versions(course_root)),
        ("PyTorch and GPU", torch_stack()),
        ("Graphviz", graphviz_dot()),
        ("Chromium (browser checks)", chromium() + cjk_font()),
        ("Visdom", visdom_assets()),
        ("TensorBoard", tensorflow_trap()),
        ("Ports", free_ports()),
        ("Grading isolation (the learner worker's sandbox)", grading_isolation()),
    ]


def constraint_pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in _read(path).splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[canonicalize_name(name.strip())] = version.strip()
    return pins


def _requirements(course_root: Path) -> list[tuple[Requirement, bool]]:
    """The project's requirements from pyproject.toml: (requirement, optional?), extras included."""
    project = _pyproject(course_root).get("project", {})
    entries = [(text, False) for text in project.get("dependencies", [])]
    entries += [(text, True) for extra in project.get("optional-dependencies", {}).values() for text in extra]
    requirements, seen = [], set()
    for text, optional in entries:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if canonicalize_name(requirement.name) not in seen:
            seen.add(canonicalize_name(requirement.name))
            requirements.append((requirement, optional))
    return requirements


def _pyproject(course_root: Path) -> dict:
    try:
        return tomllib.loads(_read(course_root / "pyproject.toml"))
    except tomllib.TOMLDecodeError:
        return {}


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def _first_line(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else ""
