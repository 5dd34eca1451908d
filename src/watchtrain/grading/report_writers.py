"""The report files: JSON points, Gradescope's results.json and JUnit XML. Each is a small plugin,
registered only when its option is given, and written at the end of the session (as pytest's own
junitxml is), also when nothing was collected or the run was interrupted: a results file is always
written."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from watchtrain.grading.gradescope import gradescope_results
from watchtrain.grading.junit import junit_xml
from watchtrain.grading.results import build_report
from watchtrain.grading.session import grading_session

# option -> (what it is, how to render the report's data)
FORMATS: dict[str, tuple[str, Callable[[dict, pytest.Config], str]]] = {
    "--report-json": ("points report", lambda data, config: json.dumps(data, indent=2)),
    "--report-gradescope": ("Gradescope results", lambda data, config: json.dumps(
        gradescope_results(data, hidden_visibility=config.getoption("--hidden-visibility")), indent=2)),
    "--report-junit": ("JUnit XML report", lambda data, config: junit_xml(data)),
}


class ReportWriter:
    def __init__(self, config: pytest.Config, path: Path, what: str, render: Callable[[dict, pytest.Config], str]):
        self.config, self.path, self.what, self.render = config, path, what, render
        self.written = False

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        grading = grading_session(self.config)
        data = build_report(grading.course, list(grading.results.values())).as_dict()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(self.render(data, self.config), encoding="utf-8")
        self.written = True

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.written:
            terminalreporter.write_line(f"{self.what} written to {self.path}")


def register_report_writers(config: pytest.Config) -> None:
    for option, (what, render) in FORMATS.items():
        path = config.getoption(option)
        if path:
            config.pluginmanager.register(ReportWriter(config, Path(path), what, render), f"watchtrain-{option[2:]}")
