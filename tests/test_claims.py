"""The chapters' shared formatting helpers (fmnist_utils.claims, fmnist_utils.stats)."""
import pytest

from fmnist_utils.claims import counted
from fmnist_utils.stats import mean_sd_text


def test_mean_sd_formats_a_mean_and_its_seed_spread():
    assert mean_sd_text([0.9233, 0.9225, 0.9252], 4) == "0.9237 ± 0.0014"
    assert mean_sd_text([0.9233, 0.9225, 0.9252], 2, 100, unit="%") == "92.37% ± 0.14"
    assert mean_sd_text([0.9233], 4) == "0.9233"  # one seed has no spread to show


def test_mean_sd_names_an_empty_cell():
    assert mean_sd_text([]) == "missing" and mean_sd_text([], empty="-") == "-"


def test_counted():
    assert (counted(1, "seed"), counted(2, "seed")) == ("1 seed", "2 seeds")
