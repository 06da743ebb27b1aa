import json

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
    (dict(precision="float16"), "precision='float16' is not valid; it must be one of 'float32', 'bfloat16'"),
])
def test_bad_values_fail_with_the_allowed_values(given, words):
    with pytest.raises(ParameterError) as error:
        chapter.settings_from(kernel_namespace(**given))
    assert words in str(error.value)


# the bfloat16 appendix trains both precisions itself; tests/test_bfloat16_cost.py checks its precision parameter
@pytest.mark.parametrize("name", sorted(set(CHAPTERS) - {"bfloat16_cost"}))
def test_bfloat16_is_refused_when_the_parameters_are_read_where_the_device_has_no_fast_bfloat16(name, monkeypatch):
    """Every chapter stops in its settings cell, before anything trains, with the device's reason and the fix."""
    from fmnist_utils import train

    module = CHAPTERS[name]
    reason = "the CPU (Test CPU) lists neither avx512_bf16 nor amx_bf16 among its flags"
    monkeypatch.setattr(train, "fast_bfloat16", lambda device="auto": reason)
    with pytest.raises(ParameterError) as error:
        module.settings_from({"profile": "smoke", "device": "cpu", "precision": "bfloat16"})
    assert str(error.value) == (f"parameter precision='bfloat16' is refused on cpu, which has no fast bfloat16: "
                                f"{reason}. Use precision='float32' (the default) on this device")
    assert module.settings_from({"profile": "smoke", "device": "cpu"}).precision == "float32"  # asks no device
    monkeypatch.setattr(train, "fast_bfloat16", lambda device="auto": None)  # a device with fast bfloat16
    assert module.settings_from({"profile": "smoke", "device": "cpu", "precision": "bfloat16"}).precision == "bfloat16"


def test_positive_int_list():
    from fmnist_utils.params import positive_int_list

    assert positive_int_list([2, 6, 14]) is None
    assert positive_int_list([2, 0]) == positive_int_list([-1]) == "a non-empty list of positive integers"
    assert positive_int_list([]) == positive_int_list(["2"]) == "a non-empty list of integers"


@pytest.mark.parametrize("given, expected", [
    ("[7]", [7]),  # papermill's -p seeds '[7]'
    ("[7, 8]", [7, 8]),
    ("7,8", [7, 8]),  # -p seeds 7,8
    (" 7, 8 ", [7, 8]),
    (7, [7]),  # papermill's -p seeds 7 arrives as an int
    ("7", [7]),
    ((7, 8), [7, 8]),
    ([7, 8], [7, 8]),
])
def test_list_parameter_accepts_the_forms_a_command_line_gives(given, expected):
    assert chapter.settings_from(kernel_namespace(seeds=given)).seeds == expected


def _list_params():
    for name, module in CHAPTERS.items():
        for param in module.SPEC.all_params:
            if param.is_list:
                yield pytest.param(module, param, id=f"{name}.{param.name}")


@pytest.mark.parametrize("module, param", list(_list_params()))
def test_every_list_parameter_reads_a_list_literal_and_a_comma_separated_string(module, param):
    preset = param.preset("paper")
    expected = getattr(module.settings_from({"profile": "paper"}), param.name)  # the preset, as the chapter keeps it
    settings = module.settings_from({"profile": "paper", param.name: json.dumps(preset)})
    assert getattr(settings, param.name) == expected
    if all(isinstance(v, (int, float, str)) for v in preset):  # flat lists also as "a,b,c"
        settings = module.settings_from({"profile": "paper", param.name: ",".join(map(str, preset))})
        assert getattr(settings, param.name) == expected


def test_list_parameters_cover_every_kind_of_list():
    names = {p.values[1].name for p in _list_params()}
    assert {"seeds", "dropouts", "norms", "widths", "lrs", "losses", "architectures", "classical_models"} <= names


@pytest.mark.parametrize("given", ["[7", "seven", "[7, 'x']", "7.5"])
def test_unreadable_list_names_the_parameter_and_how_to_pass_it(given):
    with pytest.raises(ParameterError) as error:
        chapter.settings_from(kernel_namespace(seeds=given))
    message = str(error.value)
    assert f"seeds={given!r} is not valid; it must be a non-empty list of integers" in message
    assert "-p seeds '[42, 43, 44]'" in message and "-y 'seeds: [42, 43, 44]'" in message


def test_papermill_parameters_reach_resolve_as_lists(tmp_path):
    """papermill's -p gives strings (or an int for 7), -y gives YAML values; both end as lists of ints."""
    import nbformat
    from click.testing import CliRunner
    from papermill.cli import papermill

    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                 "display_name": "Python 3"}})
    notebook.cells = [nbformat.v4.new_code_cell("profile = 'paper'\nseeds = None\nablation_seeds = None\nepochs = None",
                                                metadata={"tags": ["parameters"]})]
    source, output = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(notebook, source)
    result = CliRunner().invoke(papermill, [str(source), str(output), "--prepare-only", "--no-progress-bar",
                                            "-p", "seeds", "[7, 8]", "-p", "ablation_seeds", "7",
                                            "-y", "epochs: 2"])
    assert result.exit_code == 0, result.output
    namespace = {}
    for cell in nbformat.read(output, as_version=4).cells:  # the parameters cell, then papermill's injection
        exec(cell.source, namespace)
    assert namespace["seeds"] == "[7, 8]"  # what papermill hands the notebook
    settings = chapter.settings_from({k: v for k, v in namespace.items() if k != "__builtins__"})
    assert (settings.seeds, settings.ablation_seeds, settings.epochs) == ([7, 8], [7], 2)


@pytest.mark.parametrize("check, good, bad, words", [
    ("positive_float", [2.05e-5, 3], [0, -1.0, True, "1e-3"], "a positive number"),
    ("positive_float_list", [[5e-2, 2.05e-6], (1,)], [[], [1e-3, 0.0], 1e-3], "a non-empty list of positive numbers"),
    ("probability_list", [[], [0.2, 0.5]], [[1.0], [0], [True], 0.2], "a list of probabilities in (0, 1)"),
])
def test_generic_number_checks(check, good, bad, words):
    from fmnist_utils import params

    function = getattr(params, check)
    assert all(function(value) is None for value in good)
    assert all(function(value) == words or words in function(value) for value in bad)


def test_subset_of_names_the_allowed_values():
    from fmnist_utils.params import subset_of

    check = subset_of("ce", "mse")
    assert check(["mse", "ce"]) is None
    for bad in ([], ["hinge"], "ce"):
        assert check(bad) == "a non-empty list drawn from 'ce', 'mse'"


@pytest.mark.parametrize("check, good, bad", [
    ("non_negative_int", [0, 3], [-1, 1.5, True, "2"]),
    ("non_negative_number", [0, 0.5, 2], [-0.1, True, "1"]),
    ("open_fraction", [0.1, 0.9], [0, 1, 1.5, True, "0.1"]),
])
def test_generic_non_negative_and_fraction_checks(check, good, bad):
    import fmnist_utils.params as params

    function = getattr(params, check)
    assert all(function(v) is None for v in good)
    assert all(isinstance(function(v), str) for v in bad)
