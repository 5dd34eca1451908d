"""The TensorBoard lessons' demo output, served by a real TensorBoard on 127.0.0.1: its HTTP API
lists the graph, the projector, the training run's scalars and figures, and the PR curves.

The demos of lessons 03, 04 and 05 run into a temporary folder (lesson 04 on fewer training
images than `watchtrain demo`, enough for one figure, the same code otherwise); then `tensorboard --logdir` is started on
it, queried, and always stopped."""
import time
import warnings
from pathlib import Path

import pytest

from watchtrain.course import load_course
from watchtrain.data import CLASS_NAMES
from watchtrain.demos import lesson_demo
from watchtrain.reference import load_reference
from watchtrain.servers.tensorboard import start_tensorboard

COURSE = load_course(Path(__file__).resolve().parents[1])
GRAPH_RUN, PROJECTOR_RUN = "03_graph_and_projector/graph", "03_graph_and_projector/projector"
TRAINING_RUN, PR_RUN = "04_training_run", "05_pr_curves"
LOAD_TIMEOUT_S = 60.0

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    solutions = COURSE.root / "solutions"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # add_graph's torch.jit.trace
        for lesson, options in (("03_graph_and_projector", {}), ("04_training_run", {"train_images": 2000}),
                                ("05_pr_curves", {})):
            lesson_demo(lesson).run(load_reference(solutions, lesson), runs / lesson, **options)
    with start_tensorboard(runs) as tensorboard:
        yield tensorboard


def wait_for(server, path: str, found, what: str):
    """GET `path` until `found(response)` is true; TensorBoard loads the log folder in the background."""
    deadline = time.monotonic() + LOAD_TIMEOUT_S
    while True:
        response = server.get_json(path)
        if found(response):
            return response
        if time.monotonic() > deadline:
            pytest.fail(f"TensorBoard did not list {what} within {LOAD_TIMEOUT_S:g} s; {path} says: {response}")
        time.sleep(0.25)


def test_server_listens_on_localhost_only(server):
    assert server.url.startswith("http://127.0.0.1:")
    assert server.running()


def test_plugins_listing_enables_the_lessons_dashboards(server):
    wanted = ("scalars", "images", "graphs", "pr_curves", "projector")
    listing = wait_for(server, "/data/plugins_listing",
                       lambda plugins: all(plugins.get(name, {}).get("enabled") for name in wanted),
                       f"the plugins {', '.join(wanted)} as enabled")
    assert all(listing[name]["enabled"] for name in wanted)


def test_scalars_list_the_training_run(server):
    tags = wait_for(server, "/data/plugin/scalars/tags", lambda runs: TRAINING_RUN in runs,
                    f"the run {TRAINING_RUN} among the scalar runs")
    assert {"training loss", "test accuracy"} <= set(tags[TRAINING_RUN])


def test_images_list_the_prediction_figures(server):
    tags = wait_for(server, "/data/plugin/images/tags", lambda runs: TRAINING_RUN in runs,
                    f"the run {TRAINING_RUN} among the image runs")
    assert "predictions vs. actuals" in tags[TRAINING_RUN]


def test_graphs_list_the_model_graph(server):
    info = wait_for(server, "/data/plugin/graphs/info", lambda runs: GRAPH_RUN in runs,
                    f"the run {GRAPH_RUN} among the graph runs")
    assert info[GRAPH_RUN]["run_graph"]


def test_pr_curves_list_one_curve_per_class(server):
    tags = wait_for(server, "/data/plugin/pr_curves/tags", lambda runs: PR_RUN in runs,
                    f"the run {PR_RUN} among the PR-curve runs")
    assert set(tags[PR_RUN]) == set(CLASS_NAMES)


def test_projector_lists_the_embedding(server):
    runs = wait_for(server, "/data/plugin/projector/runs", lambda runs: PROJECTOR_RUN in runs,
                    f"the run {PROJECTOR_RUN} among the projector runs")
    assert PROJECTOR_RUN in runs
    config = server.get_json(f"/data/plugin/projector/info?run={PROJECTOR_RUN}")
    (embedding,) = config["embeddings"]
    assert embedding["tensorShape"] == [100, 784]
    assert embedding["sprite"]["singleImageDim"] == [28, 28]
