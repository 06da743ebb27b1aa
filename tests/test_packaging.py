import re
import tomllib

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
