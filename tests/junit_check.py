#!/usr/bin/python3
"""junit_check.py — validate a JUnit XML file linkbench wrote, as a CI would read it.

usage: junit_check.py FILE [--failures N] [--errors N] [--skipped N] [--tests N]
                           [--case NAME=STATUS]...

Three readers, each must accept the file:
  1. xmllint --schema tests/data/junit/junit.xsd (libxml2-utils; the schema is ours,
     written from the Jenkins/Surefire layout);
  2. junitparser (Debian python3-junitparser), a JUnit consumer nobody here wrote;
  3. xml.etree: every count attribute equals the cases counted, every case has a
     name and a classname.
Then the expected counts and case statuses (pass, failure, error, skipped), if given.
Exit 0 when everything holds; 1 with the reason on stderr.
"""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import junitparser


def fail(msg):
    print(f"junit_check: {msg}", file=sys.stderr)
    sys.exit(1)


def status_of(case):
    for tag in ("failure", "error", "skipped"):
        if case.find(tag) is not None:
            return tag
    return "pass"


def main():
    args = sys.argv[1:]
    if not args:
        fail("usage: junit_check.py FILE [--failures N] ... [--case NAME=STATUS]")
    path, want, cases = args[0], {}, {}
    i = 1
    while i < len(args):
        if args[i] == "--case":
            name, _, st = args[i + 1].rpartition("=")
            cases[name] = st
        else:
            want[args[i].lstrip("-")] = int(args[i + 1])
        i += 2

    xsd = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "junit", "junit.xsd")
    r = subprocess.run(["xmllint", "--noout", "--schema", xsd, path], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"{path}: xmllint --schema: {r.stderr.strip()}")

    try:
        xml = junitparser.JUnitXml.fromfile(path)
    except Exception as e:  # any refusal by the consumer is the finding
        fail(f"{path}: junitparser: {e}")
    jp = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in xml:
        for case in suite:
            jp["tests"] += 1
            for res in case.result:
                if isinstance(res, junitparser.Failure):
                    jp["failures"] += 1
                elif isinstance(res, junitparser.Error):
                    jp["errors"] += 1
                elif isinstance(res, junitparser.Skipped):
                    jp["skipped"] += 1

    root = ET.parse(path).getroot()
    if root.tag != "testsuites":
        fail(f"{path}: root element {root.tag}, expected testsuites")
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    seen = {}
    for suite in root.findall("testsuite"):
        counted = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for case in suite.findall("testcase"):
            if not case.get("name") or not case.get("classname"):
                fail(f"{path}: a testcase without name or classname in suite {suite.get('name')}")
            st = status_of(case)
            counted["tests"] += 1
            if st != "pass":
                counted[{"failure": "failures", "error": "errors", "skipped": "skipped"}[st]] += 1
            seen[case.get("name")] = st
        for k, v in counted.items():
            if int(suite.get(k, "0")) != v:
                fail(f"{path}: suite {suite.get('name')}: {k}={suite.get(k)}, counted {v}")
            total[k] += v
    for k, v in total.items():
        if int(root.get(k, "0")) != v:
            fail(f"{path}: testsuites {k}={root.get(k)}, counted {v}")
        if jp[k] != v:
            fail(f"{path}: junitparser counts {k}={jp[k]}, the XML holds {v}")
    for k, v in want.items():
        if total.get(k) != v:
            fail(f"{path}: {k}={total.get(k)}, expected {v}")
    for name, st in cases.items():
        if seen.get(name) != st:
            fail(f"{path}: case {name}: {seen.get(name, 'absent')}, expected {st}")
    print(f"junit_check: {path}: valid ({total})")


main()
