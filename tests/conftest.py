import pytest
import torch

from fmnist_utils.config import RunConfig


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
