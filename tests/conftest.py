import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fmnist_utils.config import RunConfig
from fmnist_utils.store import REPO_ROOT


@pytest.fixture(autouse=True)
def _one_thread():
    """Tests share two cores with whatever else runs; one thread keeps timings predictable."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def tiny_config() -> RunConfig:
    """A real but seconds-long run: Model-1 on 256 training images."""
    return RunConfig(model="model1", epochs=2, train_subset=256, eval_subset=200, batch_size=64, seed=3)


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Path:
    """The book built once per test session, as `make book` builds it; returns its html folder."""
    out = tmp_path_factory.mktemp("book")
    result = subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", str(REPO_ROOT),
                             "--path-output", str(out), "--warningiserror", "--keep-going"],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return out / "_build" / "html"
