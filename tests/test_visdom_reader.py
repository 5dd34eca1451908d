"""watchtrain.artifacts.visdom on windows made by a real Visdom server: live, and from a saved env file."""
import base64
import json

import numpy as np
import pytest

from watchtrain.artifacts.errors import ArtifactError
from watchtrain.artifacts.visdom import read_env, read_env_file, windows
from watchtrain.servers.visdom import start_visdom


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with start_visdom(tmp_path_factory.mktemp("visdom-envs")) as server:
        yield server


@pytest.fixture(scope="module")
def filled(server):
    """One env with every kind of window the lesson makes, then saved; returns the env name."""
    env = "reader"
    viz = server.client(env=env)
    win = viz.line(X=[0], Y=[0.5], opts=dict(title="grows"))
    for step in (1, 2, 3):
        viz.line(X=[step], Y=[0.5 - 0.1 * step], win=win, update="append")
    viz.line(X=np.arange(1, 4), Y=np.column_stack([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]),
             opts=dict(title="two lines", legend=["up", "down"]))
    viz.line(X=np.arange(2), Y=np.column_stack([[1.0, 2.0], [2.0, 1.0]]), opts=dict(title="no legend"))
    viz.text("<b>hello</b>", opts=dict(title="note"))
    gray = np.linspace(0, 1, 6 * 4, dtype=np.float32).reshape(1, 6, 4)
    viz.image(gray, opts=dict(title="one", caption="a gradient"))
    viz.images(np.zeros((5, 1, 6, 4), dtype=np.float32), nrow=2, padding=1, opts=dict(title="grid"))
    viz.save([env])
    return env


def test_reads_every_window_in_order(server, filled):
    found = read_env(server.client(), filled)
    assert [(w.type, w.title) for w in found] == [("plot", "grows"), ("plot", "two lines"), ("plot", "no legend"),
                                                  ("text", "note"), ("image", "one"), ("image", "grid")]


def test_appended_points_come_back_in_order(server, filled):
    grows = read_env(server.client(), filled)[0]
    assert len(grows.traces) == 1
    assert grows.traces[0].x == [0.0, 1.0, 2.0, 3.0]
    assert grows.traces[0].y == pytest.approx([0.5, 0.4, 0.3, 0.2])


def test_legend_names_and_their_absence(server, filled):
    _, two, plain, *_ = read_env(server.client(), filled)
    assert two.legend == ["up", "down"] and two.show_legend
    assert [t.y for t in two.traces] == [[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]
    assert plain.legend == [] and [t.name for t in plain.traces] == ["1", "2"]


def test_text_and_images(server, filled):
    *_, note, one, grid = read_env(server.client(), filled)
    assert note.text == "<b>hello</b>"
    assert one.image_size == (4, 6) and one.caption == "a gradient"
    expected = np.uint8(np.linspace(0, 1, 24, dtype=np.float32).reshape(6, 4) * 255.0)
    assert np.array_equal(one.pixels[:, :, 0], expected)
    assert grid.image_size == (2 * (4 + 2), 3 * (6 + 2))


def test_saved_env_file_holds_the_same_windows(server, filled):
    live = read_env(server.client(), filled)
    saved = read_env_file(server.env_file(filled))
    assert saved == live


def test_an_unknown_env_has_no_windows(server):
    assert read_env(server.client(), "never_used") == []


def test_a_missing_env_file_says_to_save(tmp_path):
    with pytest.raises(ArtifactError, match=r"never saved(.|\n)*viz.save\(\[env\]\)"):
        read_env_file(tmp_path / "nothing.json")


def test_a_damaged_env_file_is_named(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"jsons": ', encoding="utf-8")
    with pytest.raises(ArtifactError, match="not a Visdom env file") as caught:
        read_env_file(path)
    assert caught.value.path == path


def test_an_unreadable_image_is_reported():
    window = {"id": "w", "type": "image", "title": "bad", "content": {"src": "data:image/png;base64,AAAA"}}
    with pytest.raises(ArtifactError, match="no readable picture"):
        windows({"w": window}, "env")


def test_a_bar_chart_with_category_names_is_read(server):
    """What is not a number, such as the names on a bar chart's axis, reads as NaN: a check compares numbers."""
    viz = server.client(env="bars")
    viz.bar(X=np.array([3, 5]), opts=dict(rownames=["cats", "dogs"], title="pets"))
    (bars,) = read_env(server.client(), "bars")
    assert len(bars.traces) == 1 and np.isnan(bars.traces[0].x).all() and bars.traces[0].y == [3.0, 5.0]


# Hostile envs: what a submission can send to the server by hand, or write in place of a saved env

def _png_header(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


@pytest.mark.parametrize("src, problem", [
    ("data:image/png;base64," + base64.b64encode(_png_header(50_000, 50_000)).decode(), "claims more than"),
    (None, "AttributeError"),
], ids=["50000 x 50000", "no src"])
def test_an_image_window_too_large_or_without_a_picture_is_refused_before_decoding(src, problem):
    window = {"id": "w", "type": "image", "title": "bad", "content": {"src": src}}
    with pytest.raises(ArtifactError, match=f"no readable picture .*{problem}"):
        windows({"w": window}, "env")


@pytest.mark.parametrize("jsons", [[1, 2], {"w": 5}, {"a": {"i": "x"}, "b": {"i": 1}},
                                   {"w": {"type": "plot", "content": {"data": [1, 2]}}},
                                   {"w": {"type": "plot", "content": {"data": [], "layout": [1]}}}],
                         ids=["a list", "a number", "mixed orders", "traces that are numbers", "a list for layout"])
def test_windows_visdoms_calls_never_send_are_an_artifact_error(tmp_path, jsons):
    path = tmp_path / "env.json"
    path.write_text(json.dumps({"jsons": jsons, "reload": {}}), encoding="utf-8")
    with pytest.raises(ArtifactError, match="the env holds something Visdom's own window calls never send"):
        read_env_file(path)


def test_json_nested_past_pythons_stack_is_a_damaged_env_file(tmp_path):
    path = tmp_path / "env.json"
    path.write_text('{"jsons": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")
    with pytest.raises(ArtifactError, match="not a Visdom env file .RecursionError"):
        read_env_file(path)
