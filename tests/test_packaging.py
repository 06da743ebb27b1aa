import re
import subprocess
import tomllib

import pytest

from fmnist_utils.store import REPO_ROOT


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(project["dependencies"]) | set(project["optional-dependencies"]["test"])
    listed = set(re.findall(r"^\s+- ([A-Za-z].*\S)\s*$", (REPO_ROOT / "environment.yml").read_text(), re.M))
    listed -= {"python=3.11", "pip", "pip:", "conda-forge"}
    assert listed == wanted


def test_jupyter_book_is_pinned_below_2():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert "jupyter-book>=1.0.4,<2" in project["dependencies"]


# Git hosts refuse files over 100 MB; a chapter-3 MLP checkpoint (weights, best weights and Adam
# state) is 97 MB at 2 x 2096 units and larger when wider, so those stay local.
MAX_TRACKED_BYTES = 50 * 2**20


def test_no_tracked_file_is_too_large_to_push():
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True)
    if listing.returncode != 0:
        pytest.skip("not a git checkout")
    files = [REPO_ROOT / name for name in listing.stdout.decode().split("\0") if name]
    too_large = [f"{path.relative_to(REPO_ROOT)} ({path.stat().st_size / 2**20:.0f} MB)"
                 for path in files if path.is_file() and path.stat().st_size > MAX_TRACKED_BYTES]
    assert not too_large, ("tracked files over 50 MB (unstage them; a large checkpoint stays local "
                           f"and resumes from there): {', '.join(too_large)}")
