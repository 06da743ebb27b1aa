"""The chapters' shared formatting helpers in fmnist_utils.claims."""
import pytest

from fmnist_utils.claims import counted, mean_sd


def test_mean_sd_formats_a_mean_and_its_seed_spread():
    assert mean_sd([0.9233, 0.9225, 0.9252]) == "0.9237 ± 0.0014"
    assert mean_sd([0.9233, 0.9225, 0.9252], 2, 100, "%") == "92.37% ± 0.14"
    assert mean_sd([0.9233]) == "0.9233"  # one seed has no spread to show


def test_mean_sd_refuses_an_empty_cell():
    with pytest.raises(ValueError, match="at least one value"):
        mean_sd([])


def test_counted():
    assert (counted(1, "seed"), counted(2, "seed")) == ("1 seed", "2 seeds")
