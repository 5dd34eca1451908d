"""The W&B run-file reader, on runs written by the real wandb in offline mode.

The runs are written once per module (with W&B forced offline, nothing leaves the machine):
a small run that uses every kind of record the lessons need, one with a record larger than a
32 KiB block, one whose process died before finish(), and copies cut short or damaged on purpose.
"""
import shutil
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest
import torch
from torch import nn

from watchtrain.artifacts import ArtifactError
from watchtrain.artifacts.wandb import find_runs, read_run
from watchtrain.artifacts.wandb.framing import (BLOCK_SIZE, CHUNK_HEADER, FILE_HEADER, FULL, IDENT, MAGIC, VERSION,
                                                read_frames)
from watchtrain.grading.wandb_fixtures import forced_offline, offline_environment

BIG_VALUE = [round(0.001 * i, 3) for i in range(12_000)]  # about 80 KB of JSON: spans three blocks


def _write_small_run() -> None:
    import wandb

    with wandb.init(project="reader-test", name="small", group="g", tags=["t1", "t2"],
                    config={"lr": 0.1, "layers": [4, 2], "nested": {"a": {"b": 1}}}) as run:
        torch.manual_seed(0)
        model = nn.Linear(3, 2)
        criterion = nn.MSELoss()
        wandb.watch(model, criterion, log="all", log_freq=2)
        for batch in range(1, 5):
            loss = criterion(model(torch.randn(8, 3)), torch.zeros(8, 2))
            loss.backward()
            run.log({"epoch": 0, "loss": loss.item()}, step=8 * batch)
        run.config.update({"late": "yes"})
        run.summary["test_accuracy"] = 0.75
        note = Path(run.dir) / "note.txt"
        note.write_text("hello")
        wandb.save(str(note), base_path=run.dir, policy="now")
        artifact = wandb.Artifact("notes", type="dataset")
        artifact.add_file(str(note))
        run.log_artifact(artifact)


def _write_big_run() -> None:
    import wandb

    with wandb.init(project="reader-test", name="big") as run:
        run.log({"before": 1.0}, step=0)
        run.log({"big": BIG_VALUE}, step=1)
        run.log({"after": 2.0}, step=2)


def _snapshot_open_run(snapshot: Path) -> None:
    """Copy a run's file while the run is still open, as a grader reading too early would see it."""
    import wandb

    with wandb.init(project="reader-test", name="open") as run:
        for step in range(300):
            run.log({"loss": 1.0 / (step + 1), "padding": "x" * 300}, step=step)
        shutil.copyfile(next(Path(run.dir).parent.glob("run-*.wandb")), snapshot)


def _write_failed_run() -> None:
    import wandb

    run = wandb.init(project="reader-test", name="failed")
    run.log({"loss": 1.0})
    run.finish(exit_code=3)


# A process that logs more than a block, then dies without finish(): wandb-core writes whole
# blocks while a run is open, so its file ends where the last full block did.
KILLED_SCRIPT = textwrap.dedent("""
    import os, wandb
    run = wandb.init(project="reader-test", name="killed", config={"lr": 0.5})
    for step in range(400):
        run.log({"loss": 1.0 / (step + 1), "padding": "x" * 300}, step=step)
    os._exit(0)
""")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("wandb-reader")
    killed_root = root / "killed"
    with forced_offline(root / "written"):
        _write_small_run()
        _write_big_run()
        _write_failed_run()
        _snapshot_open_run(root / "run-open.wandb")
        (killed_root / "tmp").mkdir(parents=True)  # what wandb makes there at import stays there: os._exit cleans nothing
        subprocess.run([sys.executable, "-c", KILLED_SCRIPT], check=True, timeout=120,
                       env={**_plain_env(), **offline_environment(killed_root), "TMPDIR": str(killed_root / "tmp")})
    # forced_offline has finished the runs and shut wandb's service down: every file is complete.
    written = {read_run(path).name: path for path in find_runs(root / "written")}
    written["killed"] = find_runs(killed_root)[0]
    written["open snapshot"] = root / "run-open.wandb"
    return written


def _plain_env() -> dict[str, str]:
    import os

    return {name: value for name, value in os.environ.items() if not name.startswith("WANDB_")}


def test_small_run_reads_back_as_plain_data(runs):
    run = read_run(runs["small"])
    assert run.project == "reader-test" and run.name == "small" and run.group == "g" and run.tags == ("t1", "t2")
    assert run.run_id and runs["small"].name == f"run-{run.run_id}.wandb"
    assert run.config == {"lr": 0.1, "layers": [4, 2], "nested": {"a": {"b": 1}}, "late": "yes"}
    rows = run.values("loss")
    assert [step for step, _ in rows] == [8, 16, 24, 32]
    assert all(isinstance(value, float) for _, value in rows)
    assert [value for _, value in run.values("epoch")] == [0, 0, 0, 0]
    assert run.summary["test_accuracy"] == 0.75 and run.summary["loss"] == rows[-1][1]
    assert run.exit_code == 0 and run.finished and run.truncated is None
    assert run.start_time is not None


def test_watch_histograms_cover_every_parameter(runs):
    run = read_run(runs["small"])
    assert run.histogram_keys() == {"gradients/weight", "gradients/bias", "parameters/weight", "parameters/bias"}
    for key, size in (("parameters/weight", 6), ("gradients/bias", 2)):
        snapshots = run.histograms(key)
        assert snapshots, key
        for _, histogram in snapshots:
            assert len(histogram.bins) == len(histogram.counts) + 1 == 65
            assert histogram.total == size


def test_saved_files_and_artifacts(runs):
    run = read_run(runs["small"])
    mine = [file for file in run.files if file.kind == "other"]
    assert [(file.path, file.policy) for file in mine] == [("note.txt", "now")]
    assert (run.files_dir / "note.txt").read_text() == "hello"
    assert any(file.path == "requirements.txt" and file.kind == "wandb" for file in run.files)
    [artifact] = run.artifacts
    assert (artifact.name, artifact.type, artifact.aliases) == ("notes", "dataset", ("latest",))
    [entry] = artifact.entries
    assert entry.path == "note.txt" and entry.size == 5 and Path(entry.local_path).read_text() == "hello"


def test_a_record_larger_than_a_block_is_joined(runs):
    frames = read_frames(runs["big"])
    assert frames.truncated is None
    assert max(len(payload) for _, payload in frames.records) > 2 * BLOCK_SIZE  # FIRST, MIDDLE(s), LAST
    run = read_run(runs["big"])
    assert run.values("big") == [(1, BIG_VALUE)]
    assert run.values("after") == [(2, 2.0)] and run.finished


def test_exit_code_of_a_failed_run(runs):
    run = read_run(runs["failed"])
    assert run.exit_code == 3 and run.finished
    assert run.values("loss") == [(0, 1.0)]


def test_a_run_never_finished_reads_up_to_its_last_whole_record(runs):
    run = read_run(runs["killed"])
    assert not run.finished and run.exit_code is None
    assert run.config == {"lr": 0.5} and run.name == "killed"
    steps = [step for step, _ in run.values("loss")]
    assert 0 < len(steps) <= 400 and steps == list(range(len(steps)))
    if run.truncated is not None:
        assert str(runs["killed"]) in run.truncated


def test_a_run_read_while_still_open(runs):
    run = read_run(runs["open snapshot"])
    assert not run.finished
    steps = [step for step, _ in run.values("loss")]
    assert steps == list(range(len(steps))) and len(steps) < 300
    if run.truncated is not None:
        assert str(runs["open snapshot"]) in run.truncated


@pytest.mark.parametrize("where", ["inside the file header", "inside a chunk header", "inside a chunk",
                                   "inside the split record", "at a block boundary"])
def test_a_file_cut_short_keeps_its_complete_records(runs, tmp_path, where):
    original = runs["big"]
    content = original.read_bytes()
    frames = read_frames(original)
    big_start = next(offset for offset, payload in frames.records if len(payload) > 2 * BLOCK_SIZE)
    first = frames.records[1][0]  # the run record: header, then run
    cut = {"inside the file header": 5, "inside a chunk header": first + 3, "inside a chunk": first + 20,
           "inside the split record": big_start + BLOCK_SIZE, "at a block boundary": 2 * BLOCK_SIZE}[where]
    path = tmp_path / original.name
    path.write_bytes(content[:cut])
    if where == "inside the file header":
        with pytest.raises(ArtifactError, match="shorter than its 7-byte header"):
            read_run(path)
        return
    run = read_run(path)
    assert not run.finished
    assert run.truncated is not None and str(path) in run.truncated and "cut short" in run.truncated
    complete = [offset for offset, _ in frames.records if offset < cut]
    assert len(read_frames(path).records) in (len(complete), len(complete) - 1)
    if cut > big_start:
        assert run.project == "reader-test" and run.values("before") == [(0, 1.0)]
        assert run.values("big") == []


def test_a_changed_byte_is_reported_as_damage(runs, tmp_path):
    content = bytearray(runs["small"].read_bytes())
    offset = read_frames(runs["small"]).records[1][0] + 7 + 4  # inside the run record's payload
    content[offset] ^= 0xFF
    path = tmp_path / "run-damaged.wandb"
    path.write_bytes(bytes(content))
    with pytest.raises(ArtifactError, match=f"damaged at byte {offset - 11}: its checksum") as error:
        read_run(path)
    assert str(path) in str(error.value)


def test_a_file_that_is_not_a_run(tmp_path):
    path = tmp_path / "run-x.wandb"
    path.write_bytes(b"PK\x03\x04 not a wandb file at all")
    with pytest.raises(ArtifactError, match="not a W&B run file"):
        read_run(path)
    path.write_bytes(b"")
    with pytest.raises(ArtifactError, match="0 bytes long"):
        read_run(path)


def test_finding_runs(runs, tmp_path):
    root = runs["small"].parents[2]  # <WANDB_DIR>/wandb/offline-run-*/run-*.wandb
    found = find_runs(root)
    assert set(found) >= {runs["small"], runs["big"], runs["failed"]}
    assert all(path.parent.name.startswith("offline-run-") for path in found)
    assert read_run(runs["small"].parent).run_id == read_run(runs["small"]).run_id
    with pytest.raises(ArtifactError, match="does not exist"):
        find_runs(tmp_path / "nowhere")
    with pytest.raises(ArtifactError, match="found no"):
        read_run(tmp_path)
    copy = tmp_path / "copy"
    shutil.copytree(runs["small"].parent, copy)
    assert read_run(copy).config == read_run(runs["small"]).config


def test_forced_offline_hides_keys_and_restores_the_environment(tmp_path, monkeypatch):
    import os

    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_MODE", "online")
    with forced_offline(tmp_path / "w"):
        assert "WANDB_API_KEY" not in os.environ
        assert os.environ["WANDB_MODE"] == "offline" and os.environ["WANDB_DIR"] == str(tmp_path / "w")
    assert os.environ["WANDB_API_KEY"] == "x" * 40 and os.environ["WANDB_MODE"] == "online"


@pytest.mark.parametrize("name", ["small", "big", "failed"])
def test_agrees_with_wandbs_own_inspector(runs, name):
    """`wandb leet inspect` (wandb-core's reader, in Go) is an independent check of this one."""
    import json

    completed = subprocess.run([sys.executable, "-m", "wandb", "leet", "inspect", "--summary", "--json",
                                str(runs[name])], capture_output=True, text=True, timeout=120,
                               env={**_plain_env(), "WANDB_MODE": "offline"})
    assert completed.returncode == 0, completed.stderr
    theirs = json.loads(completed.stdout)
    ours = read_run(runs[name])
    assert (ours.run_id, ours.project, ours.name, ours.exit_code) == \
        (theirs["run_id"], theirs["project"], theirs["name"], theirs["exit_code"])
    assert ours.config == theirs["config"]
    assert ours.summary == {key: value for key, value in theirs["summary"].items() if not key.startswith("_")}


# Hostile files: records a submission can write by hand

def _run_file(path: Path, *records) -> Path:
    """A run file holding `records` (wandb Record protos), each a FULL chunk of the first block."""
    content = bytearray(FILE_HEADER.pack(MAGIC, IDENT, VERSION))
    for record in records:
        payload = record.SerializeToString()
        content += CHUNK_HEADER.pack(zlib.crc32(payload, zlib.crc32(bytes([FULL]))), len(payload), FULL) + payload
    assert len(content) <= BLOCK_SIZE
    path.write_bytes(bytes(content))
    return path


def _history(**values_json):
    from wandb.proto import wandb_internal_pb2 as pb

    return pb.Record(history=pb.HistoryRecord(item=[pb.HistoryItem(key=key, value_json=value)
                                                    for key, value in values_json.items()]))


def test_json_nested_past_pythons_stack_is_damage_not_a_recursion_error(tmp_path):
    from wandb.proto import wandb_internal_pb2 as pb

    deep = "[" * 5000 + "]" * 5000
    for record in (pb.Record(config=pb.ConfigRecord(update=[pb.ConfigItem(key="a", value_json=deep)])),
                   pb.Record(summary=pb.SummaryRecord(update=[pb.SummaryItem(key="a", value_json=deep)])),
                   pb.Record(history=pb.HistoryRecord(item=[pb.HistoryItem(key="a", json=deep)]))):
        with pytest.raises(ArtifactError, match=r"damaged at byte 7: a value is not JSON that Python can read \(Rec"):
            read_run(_run_file(tmp_path / "run-deep.wandb", record))


@pytest.mark.parametrize("step", ['"abc"', "Infinity", "null", "[1]", "2.5"])
def test_a_history_step_that_is_not_a_whole_number_is_damage(tmp_path, step):
    with pytest.raises(ArtifactError, match="a history row's step is .*, not a whole number"):
        read_run(_run_file(tmp_path / "run-step.wandb", _history(_step=step, loss="1.0")))
    assert read_run(_run_file(tmp_path / "run-step.wandb", _history(_step="3.0", loss="1.0"))).values("loss") == [(3, 1.0)]


@pytest.mark.parametrize("saved", ["../x", "/etc/passwd", "a/../../b", ""])
def test_a_saved_file_outside_the_runs_files_folder_is_damage(tmp_path, saved):
    """A check copies the saved files from run.files_dir: such a path would send it elsewhere."""
    from wandb.proto import wandb_internal_pb2 as pb

    record = pb.Record(files=pb.FilesRecord(files=[pb.FilesItem(path=saved)]))
    with pytest.raises(ArtifactError, match=f"names the saved file {saved!r}, which is not inside the run's files"):
        read_run(_run_file(tmp_path / "run-saved.wandb", record))


def test_values_a_newer_wandb_might_write_are_read_not_raised(tmp_path):
    from wandb.proto import wandb_internal_pb2 as pb

    record = pb.Record(files=pb.FilesRecord(files=[pb.FilesItem(path="model.onnx", policy=99)]))
    assert read_run(_run_file(tmp_path / "run-enum.wandb", record)).files[0].policy == "99"
    run = read_run(_run_file(tmp_path / "run-histogram.wandb",
                             _history(_step="1", w='{"_type": "histogram", "bins": 3, "values": "ab"}')))
    assert run.histograms("w") == [] and run.histogram_keys() == set()
