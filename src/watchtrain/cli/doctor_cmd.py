"""`watchtrain doctor`: check this machine for the course and say how to fix each problem."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "doctor", help="check Python, packages, torch/torchvision, GPU, Graphviz, Chromium, Visdom and ports",
        description="Check that this machine can run the course: Python and package versions against "
        "constraints.txt, torch and torchvision loading together, a GPU, Graphviz `dot`, Chromium, Visdom's "
        "web assets, TensorFlow beside TensorBoard, and free ports. Each problem comes with its fix. "
        "Exits 1 when something the course needs is broken.")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from watchtrain.course import load_course
    from watchtrain.doctor import FAIL, WARN, run_checks

    course = load_course()
    print(f"Checking this machine for {course.title} ({course.root})")
    counts = {WARN: 0, FAIL: 0}
    for section, findings in run_checks(course.root):
        print(f"\n{section}")
        for finding in findings:
            counts[finding.status] = counts.get(finding.status, 0) + 1
            print(f"  {finding.status:<4}  {finding.what}")
            if finding.fix:
                print(f"        fix: {finding.fix}")
    problems, warnings = counts[FAIL], counts[WARN]
    if problems:
        print(f"\n{problems} problem(s) and {warnings} warning(s): fix the FAIL lines first, then run "
              "`watchtrain doctor` again.")
        return 1
    print("\nReady to train." + (f" {warnings} warning(s) above: the course works, but read them." if warnings else ""))
    return 0
