"""tools/venv_cache.py: a fresh clone's .venv is restored from an identical set-up's, in the new
folder's own terms, and the kept copy is never changed by it."""
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "venv_cache.py"


@pytest.fixture
def venv_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WATCHTRAIN_VENV_CACHE", str(tmp_path / "cache"))
    spec = importlib.util.spec_from_file_location("venv_cache", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def clone_with_a_venv(folder: Path, *, course: bool = True) -> Path:
    """A clone's folder with a small real .venv: an editable course (a .pth naming src/), a script
    whose first line names the venv's python, and make's stamp."""
    if course:
        (folder / "src" / "watchtrain").mkdir(parents=True)
        (folder / "src" / "watchtrain" / "__init__.py").write_text("")
    venv = folder / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    [site] = venv.glob("lib/python*/site-packages")
    (site / "__editable__.watchtrain-0.1.0.pth").write_text(f"{folder / 'src'}\n")
    (venv / "bin" / "watchtrain").write_text(f"#!{venv / 'bin' / 'python'}\nimport watchtrain\n")
    (venv / "bin" / "watchtrain").chmod(0o755)
    (venv / ".installed").touch()
    return venv


def test_a_fresh_clone_gets_the_kept_venv_rewritten_for_its_own_folder(venv_cache, tmp_path):
    first = clone_with_a_venv(tmp_path / "first")
    venv_cache.save(first, "default")
    [kept] = [path for path in (tmp_path / "cache").iterdir() if not path.name.startswith(".")]
    kept_script = (kept / "venv" / "bin" / "watchtrain").read_text()
    assert not (kept / "venv" / ".installed").exists(), "make's stamps stay with each clone"

    (tmp_path / "second" / "src" / "watchtrain").mkdir(parents=True)
    (tmp_path / "second" / "src" / "watchtrain" / "__init__.py").write_text("")
    second = tmp_path / "second" / ".venv"
    assert venv_cache.restore(second, "default")
    assert (second / "bin" / "watchtrain").read_text().startswith(f"#!{second / 'bin' / 'python'}\n")
    imported = subprocess.run([str(second / "bin" / "python"), "-c", "import watchtrain; print(watchtrain.__file__)"],
                              capture_output=True, text=True, check=True).stdout
    assert Path(imported.strip()).is_relative_to(tmp_path / "second" / "src")
    assert (kept / "venv" / "bin" / "watchtrain").read_text() == kept_script, "the kept copy was edited in place"
    assert (first / "bin" / "watchtrain").read_text() == kept_script


def test_nothing_is_restored_over_an_existing_venv_or_for_another_set_up(venv_cache, tmp_path):
    venv_cache.save(clone_with_a_venv(tmp_path / "first"), "default")
    existing = clone_with_a_venv(tmp_path / "second")
    assert not venv_cache.restore(existing, "default")
    assert not venv_cache.restore(tmp_path / "third" / ".venv", "cpu")  # TORCH=cpu is another set-up
    assert not (tmp_path / "third" / ".venv").exists()


def test_a_restore_that_does_not_import_this_clones_course_is_removed(venv_cache, tmp_path, capsys):
    venv_cache.save(clone_with_a_venv(tmp_path / "first"), "default")
    (tmp_path / "no_course").mkdir()
    assert not venv_cache.restore(tmp_path / "no_course" / ".venv", "default")
    assert not (tmp_path / "no_course" / ".venv").exists()
    assert "did not import this clone's course; installing it instead" in capsys.readouterr().out


def test_only_the_last_used_copies_are_kept(venv_cache, tmp_path):
    root = tmp_path / "cache"
    for number in range(venv_cache.KEEP + 2):
        (root / f"old{number}" / "venv").mkdir(parents=True)
    venv_cache.save(clone_with_a_venv(tmp_path / "first"), "default")
    kept = [path.name for path in root.iterdir() if not path.name.startswith(".")]
    assert len(kept) == venv_cache.KEEP and venv_cache.set_up_key("default") in kept


def test_a_partial_copy_left_by_a_killed_save_is_removed_and_a_running_one_is_not(venv_cache, tmp_path):
    root = tmp_path / "cache"
    abandoned, running = root / ".partial-999999999", root / ".partial-999999998"
    for partial in (abandoned, running):
        (partial / "venv").mkdir(parents=True)
    hour_ago = time.time() - venv_cache.ABANDONED_AFTER_S - 60
    os.utime(abandoned, (hour_ago, hour_ago))
    venv_cache.save(clone_with_a_venv(tmp_path / "first"), "default")
    assert not abandoned.exists() and running.exists()


def test_a_copy_that_fails_is_told_in_one_line(venv_cache):
    """cp -al across two disks fails once per file: the note keeps the first line and counts the rest."""
    error = subprocess.CalledProcessError(1, ["cp"], stderr=b"cp: cannot create hard link 'a': Invalid cross-device link\n"
                                                             b"cp: cannot create hard link 'b': Invalid cross-device link\n")
    assert venv_cache._why(error) == ("cp: cannot create hard link 'a': Invalid cross-device link "
                                      "(and 1 more like it)")


def test_a_copy_another_clone_removed_meanwhile_is_passed_over(venv_cache, tmp_path, monkeypatch):
    """Clones share the cache: a copy listed here may be removed by another clone's set-up before
    its age is read. The save still ends, and keeps what there is."""
    root = tmp_path / "cache"
    for number in range(venv_cache.KEEP + 1):
        (root / f"old{number}" / "venv").mkdir(parents=True)
    listed = Path.iterdir

    def then_removed(folder):
        for path in listed(folder):
            yield path
            if path.name == "old0":
                (path / "venv").rmdir()
                path.rmdir()  # gone once listed, as when another set-up pruned it just then

    monkeypatch.setattr(Path, "iterdir", then_removed)
    venv_cache.save(clone_with_a_venv(tmp_path / "first"), "default")
    monkeypatch.undo()
    kept = [path.name for path in root.iterdir() if not path.name.startswith(".")]
    assert len(kept) == venv_cache.KEEP and venv_cache.set_up_key("default") in kept
