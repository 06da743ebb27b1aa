import pytest

from fmnist_utils.experiments import CHAPTERS
from fmnist_utils.params import ParameterError

chapter = CHAPTERS["baseline_vs_deeper"]


def kernel_namespace(**given):
    """What a notebook's globals look like after the parameters cell and papermill's injection."""
    names = {"In": [], "Out": {}, "get_ipython": print, "_": None, "profile": "paper", "seeds": None,
             "epochs": None, "store_dir": None}
    names.update(given)
    return names


def test_profile_presets_and_overrides():
    paper = chapter.settings_from(kernel_namespace())
    assert (paper.epochs, paper.seeds, paper.train_missing, paper.train_subset) == (12, [42, 43, 44], False, None)
    smoke = chapter.settings_from(kernel_namespace(profile="smoke", epochs=2))
    assert (smoke.epochs, smoke.train_missing, smoke.train_subset) == (2, True, 512)


def test_unknown_parameter_names_the_parameter_and_the_known_ones():
    with pytest.raises(ParameterError) as error:
        chapter.settings_from(kernel_namespace(epoch=3))
    assert "unknown parameter(s) epoch" in str(error.value) and "epochs" in str(error.value)


@pytest.mark.parametrize("given, words", [
    (dict(profile="fast"), "profile='fast'; allowed values: paper, quick, smoke"),
    (dict(epochs=-2), "epochs=-2 is not valid; it must be a positive integer"),
    (dict(seeds=[]), "seeds=[] is not valid; it must be a non-empty list of integers"),
    (dict(device="tpu"), "device='tpu'"),
])
def test_bad_values_fail_with_the_allowed_values(given, words):
    with pytest.raises(ParameterError) as error:
        chapter.settings_from(kernel_namespace(**given))
    assert words in str(error.value)
