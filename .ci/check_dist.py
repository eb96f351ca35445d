"""Checks what dist/ holds: the wheel the module and its metadata only, the sdist a whole source release."""

from __future__ import annotations

import email.parser
import pathlib
import sys
import tarfile
import zipfile

NAME = "aws_mfa_session"
SDIST_MUST_HOLD = {
    "aws_mfa.py",
    "pyproject.toml",
    "README.md",
    "USAGE.md",
    "DEVELOPMENT.md",
    "PERFORMANCE.md",
    "LICENSE",
    "CHANGELOG.md",
    "Makefile",
    "MANIFEST.in",
    ".ci/run",
    ".ci/matrix",
    ".ci/lower-bounds.txt",
    "tests/conftest.py",
    "benchmarks/bench.py",
}


def check_wheel(path: pathlib.Path) -> list[str]:
    with zipfile.ZipFile(path) as wheel:
        names = set(wheel.namelist())
        info = f"{path.name.split('-')[0]}-{path.name.split('-')[1]}.dist-info"
        metadata = email.parser.Parser().parsestr(wheel.read(f"{info}/METADATA").decode())
    expected = {"aws_mfa.py"} | {
        f"{info}/{name}"
        for name in ("METADATA", "WHEEL", "RECORD", "entry_points.txt", "top_level.txt", "licenses/LICENSE")
    }
    problems = [f"wheel holds {name}, which is not the module or its metadata" for name in sorted(names - expected)]
    problems += [f"wheel lacks {name}" for name in sorted(expected - names)]
    runtime = [value for value in metadata.get_all("Requires-Dist") or [] if "extra ==" not in value]
    if runtime != ["botocore>=1.31.57"]:
        problems.append(f"wheel's runtime requirements are {runtime}, not exactly botocore")
    return problems


def check_sdist(path: pathlib.Path) -> list[str]:
    with tarfile.open(path) as sdist:
        root = sdist.getnames()[0].split("/")[0]
        names = {name.removeprefix(f"{root}/") for name in sdist.getnames()}
    problems = [f"sdist lacks {name}" for name in sorted(SDIST_MUST_HOLD - names)]
    problems += [f"sdist holds {name}" for name in sorted(names) if "__pycache__" in name or name.startswith(".venv")]
    tests = {name for name in names if name.startswith("tests/test_")}
    if not tests:
        problems.append("sdist holds no tests/test_*.py")
    return problems


def main(directory: str) -> int:
    wheels = sorted(pathlib.Path(directory).glob(f"{NAME}-*.whl"))
    sdists = sorted(pathlib.Path(directory).glob(f"{NAME}-*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        print(f"check_dist: expected one wheel and one sdist in {directory}, found {wheels + sdists}")
        return 1
    problems = check_wheel(wheels[0]) + check_sdist(sdists[0])
    for problem in problems:
        print(f"check_dist: {problem}")
    if not problems:
        print(
            f"check_dist: {wheels[0].name} holds aws_mfa.py and its metadata only; {sdists[0].name} holds the sources"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
