"""Batch results as text for other tools: JSON, CSV and JUnit XML (what CI systems read)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from xml.etree import ElementTree

from quiz.grading.results import GradeResult

CSV_COLUMNS = ("submission", "status", "passed", "total", "skipped", "first_failure", "message", "sha256",
               "duration_s")


def _first_failure(result: GradeResult) -> str:
    test = next((t for t in result.tests if t.status in ("fail", "error")), None)
    return f"{test.name}: {test.message.splitlines()[0] if test.message else test.status}" if test else ""


def to_json(results: Sequence[GradeResult]) -> str:
    return json.dumps({"version": 1, "results": [result.to_json() for result in results]}, indent=2,
                      ensure_ascii=False)


def to_csv(results: Sequence[GradeResult]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for result in results:
        writer.writerow([result.submission, result.status, result.passed, result.total, result.skipped,
                         _first_failure(result), result.message.splitlines()[0] if result.message else "",
                         result.submission_sha256 or "", f"{result.duration_s:.3f}"])
    return buffer.getvalue()


def to_junit(results: Sequence[GradeResult], exercise: str) -> str:
    """One <testsuite> per submission, one <testcase> per test (JUnit XML as Jenkins and GitLab read it)."""
    suites = ElementTree.Element("testsuites", name=f"torchprep {exercise}")
    for result in results:
        failures = sum(t.status == "fail" for t in result.tests)
        errors = sum(t.status == "error" for t in result.tests) + (result.status == "error" and not result.tests)
        suite = ElementTree.SubElement(suites, "testsuite", name=result.submission, tests=str(len(result.tests)),
                                       failures=str(failures), errors=str(errors), skipped=str(result.skipped),
                                       time=f"{result.duration_s:.3f}")
        if result.status == "error" and not result.tests:
            case = ElementTree.SubElement(suite, "testcase", name="grading", classname=exercise)
            ElementTree.SubElement(case, "error", message=result.message.splitlines()[0] if result.message else "")
        for test in result.tests:
            case = ElementTree.SubElement(suite, "testcase", name=test.name, classname=f"{exercise}.{test.task}")
            if test.status in ("fail", "error"):
                element = ElementTree.SubElement(case, "failure" if test.status == "fail" else "error",
                                                 message=test.message.splitlines()[0] if test.message else "")
                element.text = test.message
            elif test.status == "skip":
                ElementTree.SubElement(case, "skipped", message=test.message)
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
