"""`watchtrain course-map`: print the course map from course.toml, or refresh README.md's copy."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("course-map", help="print the course map from course.toml",
                                   description=__doc__)
    parser.add_argument("--write", action="store_true", help="refresh the course map block in README.md")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from watchtrain.course import load_course
    from watchtrain.course_map import render_course_map, write_course_map

    course = load_course()
    if args.write:
        write_course_map(course, course.root / "README.md")
        print(f"updated the course map in {course.root / 'README.md'}")
    else:
        print(render_course_map(course))
    return 0
