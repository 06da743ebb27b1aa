import pytest

from fmnist_utils.config import RunConfig, run_key
from fmnist_utils.store import ResultStore, model_structure


def test_key_depends_on_every_result_changing_field():
    base = RunConfig(model="model1")
    store = ResultStore("/nonexistent")
    keys = {store.key(base)}
    for change in (dict(lr=2e-3), dict(seed=1), dict(epochs=3), dict(augment={"hflip": 0.5}),
                   dict(normalize=(0.5, 0.5)), dict(model_args={"head_dropout": 0.3})):
        keys.add(store.key(base.replace(**change)))
    assert len(keys) == 7


def test_key_is_stable_and_ignores_defaults_spelled_out():
    explicit = RunConfig(model="model1", lr=1e-3, seed=42, normalize=[0.2860, 0.3530])
    assert ResultStore("/x").key(explicit) == ResultStore("/y").key(RunConfig(model="model1"))


def test_key_changes_when_the_model_definition_changes():
    config = RunConfig(model="model1")
    assert run_key(config, model_structure(config)) != run_key(config, model_structure(config) + "x")


def test_round_trip_through_json():
    config = RunConfig(model="model2", augment={"crop_padding": 4}, eval_at_epochs=(6, 2), normalize=(0.5, 0.5))
    assert RunConfig.from_dict(config.to_dict()) == config
    assert config.eval_at_epochs == (2, 6)


@pytest.mark.parametrize("change, words", [
    (dict(loss="hinge"), "loss='hinge' (allowed: ce, mse, mae)"),
    (dict(epochs=-1), "epochs=-1"),
    (dict(optimizer="lbfgs"), "optimizer='lbfgs'"),
    (dict(monitor="test_loss"), "needs track_test=True"),
    (dict(val_fraction=0.0), "no validation split"),
])
def test_invalid_configurations_name_the_field(change, words):
    with pytest.raises(ValueError) as error:
        RunConfig(model="model1", **change)
    assert words in str(error.value)


def test_unknown_fields_are_rejected():
    with pytest.raises(ValueError, match="unknown run configuration fields \\['colour'\\]"):
        RunConfig.from_dict({"model": "model1", "colour": "red"})
