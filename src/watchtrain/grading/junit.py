"""A points report as JUnit XML, for CI dashboards and LMS plug-ins that read it.

One <testsuite> per lesson, one <testcase> per check. Points ride along as <properties>; a check
that is not started is a <failure type="not started">, a crash of the learner's code an <error>.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

from watchtrain.grading.results import ERROR, FAILED, GRADER_ERROR, NOT_STARTED, PASSED, SKIPPED


def junit_xml(report: dict, *, name: str = "watchtrain") -> str:
    lessons = report.get("lessons", [])
    root = ET.Element("testsuites", name=name, **_counts([t for lesson in lessons for t in lesson["tests"]]))
    _properties(root, score=report.get("score", 0), max_score=report.get("max_score", 0))
    for lesson in lessons:
        suite = ET.SubElement(root, "testsuite", name=lesson["dir"], **_counts(lesson["tests"]))
        _properties(suite, earned=lesson["earned"], possible=lesson["possible"], status=lesson["status"])
        for test in lesson["tests"]:
            case = ET.SubElement(suite, "testcase", classname=f"{lesson['dir']}.{test['exercise']}", name=test["name"])
            _properties(case, points=test["points"], max_points=test["max_points"], hidden=test.get("hidden", False))
            status, feedback = test["status"], test["feedback"]
            if status == SKIPPED:
                ET.SubElement(case, "skipped", message=_first_line(feedback))
            elif status in (ERROR, GRADER_ERROR):
                ET.SubElement(case, "error", message=_first_line(feedback), type=status).text = feedback
            elif status != PASSED:
                ET.SubElement(case, "failure", message=_first_line(feedback), type=status).text = feedback
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _counts(tests: list[dict]) -> dict[str, str]:
    statuses = [t["status"] for t in tests]
    return {"tests": str(len(tests)), "failures": str(sum(s in (FAILED, NOT_STARTED) for s in statuses)),
            "errors": str(sum(s in (ERROR, GRADER_ERROR) for s in statuses)), "skipped": str(statuses.count(SKIPPED))}


def _properties(element: ET.Element, **values) -> None:
    properties = ET.SubElement(element, "properties")
    for key, value in values.items():
        shown = str(value).lower() if isinstance(value, bool) else f"{value:g}" if isinstance(value, float) else str(value)
        ET.SubElement(properties, "property", name=key, value=shown)


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""
