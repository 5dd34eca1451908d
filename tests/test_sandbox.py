"""The grading sandbox's parts, each on its own: limits, environment, network, clean-up, zips and
the staging of submissions."""
import json
import stat
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from watchtrain.classroom import zips
from watchtrain.classroom.isolation.sandbox import Limits, Sandbox, _marked_processes
from watchtrain.classroom.submissions import EMPTY, INVALID, OK, SubmissionEntry, find_submissions, stage
from watchtrain.classroom.supervisor import _capped
from watchtrain.classroom.zips import ZipRejected, safe_extract
from watchtrain.course import load_course

COURSE_ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(COURSE_ROOT)
LESSON = COURSE.lessons[0].dir
SRC = COURSE_ROOT / "src"


def run_in_sandbox(tmp_path: Path, code: str, limits: Limits = Limits(), **env) -> subprocess.CompletedProcess:
    sandbox = Sandbox.create(tmp_path / "sandbox")
    output = tmp_path / "output.log"
    process = sandbox.start([sys.executable, "-c", textwrap.dedent(code)], env=sandbox.environment([SRC], env),
                            limits=limits, cwd=tmp_path, output=output)
    process.wait(timeout=60)
    sandbox.kill_all(process)
    return subprocess.CompletedProcess(process.args, process.returncode, output.read_text(), "")


def test_environment_is_scrubbed_and_private(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "secret-1")
    monkeypatch.setenv("GITHUB_TOKEN", "secret-2")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-3")
    result = run_in_sandbox(tmp_path, """
        import json, os
        print(json.dumps(dict(os.environ)))
    """)
    env = json.loads(result.stdout.strip().splitlines()[-1])
    assert "secret" not in json.dumps(env)
    assert env["HOME"].startswith(str(tmp_path)) and env["TMPDIR"].startswith(str(tmp_path))
    assert env["WANDB_MODE"] == "offline" and env["CUDA_VISIBLE_DEVICES"] == "" and env["PYTHONHASHSEED"] == "0"


def test_a_huge_allocation_fails_inside_the_child(tmp_path):
    result = run_in_sandbox(tmp_path, """
        try:
            buffer = bytearray(20 * 10**9)
        except MemoryError:
            print("MemoryError, as it should")
    """, Limits(memory_mb=1024))
    assert "MemoryError, as it should" in result.stdout


def test_a_file_past_the_size_limit_is_refused(tmp_path):
    result = run_in_sandbox(tmp_path, """
        try:
            with open("big.bin", "wb") as file:
                file.write(b"x" * (3 * 2**20))
        except OSError as err:
            print("refused:", err.strerror)
    """, Limits(file_size_mb=1))
    assert "refused: File too large" in result.stdout


def test_network_stays_on_this_machine(tmp_path):
    result = run_in_sandbox(tmp_path, """
        import socket
        server = socket.socket()
        server.bind(("0.0.0.0", 0))
        server.listen()
        host, port = server.getsockname()
        print("bound to", host)
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        print("loopback connection works")
        try:
            socket.create_connection(("192.0.2.1", 80), timeout=5)
        except PermissionError as err:
            print("refused:", err)
    """)
    assert "bound to 127.0.0.1" in result.stdout and "loopback connection works" in result.stdout
    assert "refused: connecting to 192.0.2.1:80 was refused: while grading, nothing may leave this machine" in result.stdout


def test_kill_all_finds_processes_that_left_the_group(tmp_path):
    sandbox = Sandbox.create(tmp_path / "sandbox")
    code = ("import subprocess, sys, time\n"
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'], start_new_session=True)\n"
            "time.sleep(300)\n")
    process = sandbox.start([sys.executable, "-c", code], env=sandbox.environment([SRC], {}), limits=Limits(),
                            cwd=tmp_path, output=tmp_path / "output.log")
    deadline = time.monotonic() + 30
    while len(_marked_processes(sandbox.marker)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(_marked_processes(sandbox.marker)) == 2
    sandbox.kill_all(process)
    assert _marked_processes(sandbox.marker) == []


def test_output_keeps_its_head_and_tail_only(tmp_path):
    log = tmp_path / "output.log"
    log.write_text("HEAD" + "x" * 100_000 + "TAIL")
    capped = _capped(log, Limits(output_kb=4))
    assert capped.startswith("HEAD") and capped.endswith("TAIL") and len(capped) < 5_000
    assert "bytes of output left out" in capped


def make_zip(path: Path, entries: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zipped:
        for name, text in entries.items():
            zipped.writestr(name, text)
    return path


@pytest.mark.parametrize("name, message", [
    ("../evil.py", "points outside the submission folder"),
    ("lessons/../../evil.py", "points outside the submission folder"),
    ("/etc/evil.py", "absolute path"),
    ("C:/evil.py", "absolute path"),
    ("..\\evil.py", "points outside the submission folder"),
])
def test_unsafe_zip_entries_are_refused(tmp_path, name, message):
    archive = make_zip(tmp_path / "bad.zip", {f"{LESSON}/exercise.py": "x = 1\n", name: "boom\n"})
    with pytest.raises(ZipRejected, match=message):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "evil.py").exists() and not (tmp_path / "out" / f"{LESSON}").exists()


def test_zip_symlinks_bombs_and_floods_are_refused(tmp_path, monkeypatch):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        info = zipfile.ZipInfo(f"{LESSON}/exercise.py")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zipped.writestr(info, "/etc/passwd")
    with pytest.raises(ZipRejected, match="symbolic link"):
        safe_extract(archive, tmp_path / "out")
    big = make_zip(tmp_path / "big.zip", {"a.txt": "0" * 10_000})
    monkeypatch.setattr(zips, "MAX_TOTAL_BYTES", 1_000)
    with pytest.raises(ZipRejected, match="unpacks to"):
        safe_extract(big, tmp_path / "out")
    monkeypatch.setattr(zips, "MAX_ENTRIES", 2)
    with pytest.raises(ZipRejected, match="3 entries"):
        safe_extract(make_zip(tmp_path / "many.zip", {"a": "", "b": "", "c": ""}), tmp_path / "out")
    (tmp_path / "not.zip").write_text("not a zip")
    with pytest.raises(ZipRejected, match="not a readable zip"):
        safe_extract(tmp_path / "not.zip", tmp_path / "out")


def test_a_clone_of_the_course_is_graded_from_its_lessons_folder(tmp_path):
    repo = tmp_path / "alice"
    for folder, text in (("lessons", "mine = True\n"), ("solutions", "answer = True\n")):
        (repo / "course" / folder / LESSON).mkdir(parents=True)
        (repo / "course" / folder / LESSON / "exercise.py").write_text(text)
    (repo / "course" / "lessons" / LESSON / "runs").mkdir()  # run logs, notebooks...: not taken
    (repo / "course" / "autograder").mkdir()
    (repo / "course" / "autograder" / f"test_{LESSON}.py").write_text("def test_ok():\n    pass\n")
    staged = stage(SubmissionEntry("alice", repo), COURSE, tmp_path / "work")
    assert staged.status == OK
    assert sorted(p.relative_to(staged.folder).as_posix() for p in staged.folder.rglob("*") if p.is_file()) == \
        [f"{LESSON}/exercise.py"]
    assert (staged.folder / LESSON / "exercise.py").read_text() == "mine = True\n"


def test_staging_tells_empty_from_invalid(tmp_path):
    (tmp_path / "subs" / "nothing").mkdir(parents=True)
    (tmp_path / "subs" / "notes.txt").write_text("not a submission")
    (tmp_path / "subs" / "linked" / LESSON).mkdir(parents=True)
    (tmp_path / "subs" / "linked" / LESSON / "exercise.py").symlink_to(COURSE_ROOT / "solutions" / LESSON / "exercise.py")
    entries = {entry.name: entry for entry in find_submissions(tmp_path / "subs", COURSE)}
    assert sorted(entries) == ["linked", "nothing"]
    assert stage(entries["nothing"], COURSE, tmp_path / "w1").status == EMPTY
    linked = stage(entries["linked"], COURSE, tmp_path / "w2")
    assert linked.status == INVALID and "symbolic link" in linked.reason
    assert find_submissions(tmp_path / "subs" / "linked", COURSE)[0].name == "linked"  # one submission, given directly
