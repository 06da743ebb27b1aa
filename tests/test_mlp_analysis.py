"""Chapter 3: batched training (== sequential), per-step loss logging, the chapter's plan and claim logic."""
import math

import numpy as np
import pytest
import torch

from fmnist_utils import batched
from fmnist_utils.batched import BatchedTrainer, batchable, group_configs, run_grouped, train_batched
from fmnist_utils.claims import MISSING, NOT_REPRODUCED, REPRODUCED
from fmnist_utils.config import RunConfig
from fmnist_utils.experiments import mlp_analysis as chapter
from fmnist_utils.params import ParameterError
from fmnist_utils.store import MissingRun, ResultStore, StoredRun
from fmnist_utils.train import train

TOL = 1e-5


def mlp(**changes) -> RunConfig:
    base = dict(model="mlp", model_args={"hidden_layers": 2, "width": 48}, normalize=None, val_fraction=0.2,
                train_subset=512, eval_subset=300, batch_size=64, epochs=2, lr=1e-3)
    return RunConfig(**{**base, **changes})


def assert_same_run(sequential, batched_result, tol=TOL):
    assert len(sequential.history) == len(batched_result.history)
    for a, b in zip(sequential.history, batched_result.history):
        assert set(a) == set(b)
        for key in a:
            if key in ("train_seconds", "eval_seconds"):
                continue
            if key == "step_losses":
                np.testing.assert_allclose(a[key], b[key], rtol=tol, atol=tol)
            else:
                assert a[key] == pytest.approx(b[key], rel=tol, abs=tol), key
    for key, value in sequential.metrics.items():
        assert batched_result.metrics[key] == pytest.approx(value, rel=tol, abs=tol), key
    assert sequential.best_epoch == batched_result.best_epoch
    assert sequential.stopped_early == batched_result.stopped_early
    assert np.mean(sequential.predictions["pred"] != batched_result.predictions["pred"]) <= 0.01
    np.testing.assert_allclose(sequential.predictions["confidence"].astype(float),
                               batched_result.predictions["confidence"].astype(float), atol=2e-3)
    for (name, p), (_, q) in zip(sequential.model.state_dict().items(), batched_result.model.state_dict().items()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5, msg=name)


# ----- batched training == sequential training --------------------------------------------------------

def test_batched_training_equals_sequential_per_model():
    configs = [mlp(lr=1e-3, seed=1), mlp(lr=3e-4, seed=2, loss="mse", log_every_steps=3, track_test=True,
                                          eval_at_epochs=(1,))]
    together = train_batched(configs)
    for config, result in zip(configs, together):
        assert result.config == config
        assert_same_run(train(config, progress=False), result)
    assert "step_losses" in together[1].history[0] and "step_losses" not in together[0].history[0]
    assert together[1].staged and together[1].history[0]["test_acc"] >= 0


def test_a_stopped_member_freezes_while_the_others_go_on():
    # at lr 0.1 the validation loss rises in epoch 3, so patience 1 stops that member after 3 of 4 epochs
    configs = [mlp(lr=0.1, patience=1, epochs=4, seed=5), mlp(lr=1e-3, epochs=4, seed=6, loss="mae"),
               mlp(lr=1e-3, epochs=3, seed=7, optimizer="adamw", weight_decay=0.01)]
    together = train_batched(configs)
    assert together[0].stopped_early and len(together[0].history) < 4
    assert [len(r.history) for r in together[1:]] == [4, 3]
    for config, result in zip(configs, together):
        assert_same_run(train(config, progress=False), result, tol=1e-4)


@pytest.mark.parametrize("fused", [True, False], ids=["fused kernel per member", "tensor ops"])
def test_stacked_adam_matches_torch_optim_adam(fused):
    configs = [mlp(lr=1e-3, seed=1), mlp(lr=3e-2, seed=2, weight_decay=0.1),
               mlp(lr=2e-4, seed=3, optimizer="adamw", weight_decay=0.05)]
    trainer = BatchedTrainer(configs, device="cpu", fused=fused)
    twins = []
    for slot, config in enumerate(configs):
        module = trainer.member_module(trainer.member_state(slot))
        cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
        twins.append((module, cls(module.parameters(), lr=config.lr, weight_decay=config.weight_decay)))
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        grads = {n: torch.randn(p.shape, generator=generator) * 1e-2 for n, p in trainer.params.items()}
        trainer._adam({n: g.clone() for n, g in grads.items()})
        for slot, (module, optimizer) in enumerate(twins):
            for name, param in module.named_parameters():
                param.grad = grads[name][slot].clone()
            optimizer.step()
    for slot, (module, optimizer) in enumerate(twins):
        for name, param in module.named_parameters():
            torch.testing.assert_close(trainer.params[name][slot].detach(), param.detach(), rtol=1e-6, atol=1e-7)
            state = optimizer.state[param]
            torch.testing.assert_close(trainer.exp_avg_sq[name][slot], state["exp_avg_sq"], rtol=1e-6, atol=1e-12)


def test_interrupted_group_resumes_batched_or_alone(tmp_path):
    configs = [mlp(epochs=3, seed=11), mlp(epochs=3, seed=12, lr=2e-3)]
    paths = [tmp_path / "a.pt", tmp_path / "b.pt"]

    def stop(epoch, rows):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_batched(configs, checkpoint_paths=paths, on_epoch_end=stop)
    assert all(p.exists() for p in paths)
    # the checkpoint is train.train's own format: a member resumes alone ...
    alone = train(configs[1], progress=False, checkpoint_path=paths[1])
    assert alone.resumed_from_epoch == 1
    assert_same_run(train(configs[1], progress=False), alone)
    # ... or the group resumes together (a member without a checkpoint would be at another epoch)
    with pytest.raises(ValueError, match="different epochs"):
        train_batched(configs, checkpoint_paths=paths)
    resumed = train_batched(configs[:1], checkpoint_paths=paths[:1])[0]
    assert resumed.resumed_from_epoch == 1 and not paths[0].exists()
    assert_same_run(train(configs[0], progress=False), resumed)


def test_grouped_fill_stores_under_the_sequential_keys(tmp_path, capsys):
    store = ResultStore(tmp_path)
    configs = [mlp(seed=21, epochs=1), mlp(seed=22, epochs=1, lr=2e-3), mlp(seed=23, epochs=1, batch_size=32)]
    outcomes = run_grouped(configs, store, workers=1, progress=True)
    assert all(o.ok for o in outcomes)
    printed = capsys.readouterr().out  # a line per epoch of each run, batched (first two) or alone
    assert [line.split("]")[0][1:] for line in printed.splitlines()] == [store.key(c) for c in configs]
    assert [o.key for o in outcomes] == [store.key(c) for c in configs]
    for config in configs:
        stored = store.get(config)
        assert stored is not None and stored.config == config
        sequential = train(config, progress=False)
        assert stored.metrics["accuracy"] == pytest.approx(sequential.metrics["accuracy"], abs=0.01)
        assert stored.history[0]["train_loss"] == pytest.approx(sequential.history[0]["train_loss"], rel=TOL)


def test_what_can_be_batched():
    assert batchable(mlp()) is None
    assert "dropout" in batchable(mlp(model_args={"hidden_layers": 1, "width": 8, "dropout": 0.2}))
    assert "buffers" in batchable(mlp(model_args={"hidden_layers": 1, "width": 8, "batch_norm": True}))
    assert batchable(mlp(scheduler="plateau")) == "scheduler is set"
    assert batchable(mlp(augment={"hflip": 0.5})) == "augment is set"
    assert "optimizer" in batchable(mlp(optimizer="sgd"))
    assert batchable(mlp(fused_optimizer=True)) == "fused_optimizer is set and the batched loop does not implement it"
    configs = [mlp(seed=s, lr=lr) for s in (1, 2) for lr in (1e-3, 1e-4)] + [mlp(batch_size=32), mlp(epochs=5)]
    groups, alone = group_configs(configs, max_members=3)
    assert sorted(len(g) for g in groups) == [2, 3]  # epochs may differ per member; batch size may not
    assert alone == [mlp(batch_size=32)]
    with pytest.raises(ValueError, match="share every field"):
        BatchedTrainer([mlp(), mlp(batch_size=32)])


def test_a_field_the_batched_loop_does_not_know_sends_the_run_to_sequential_training(monkeypatch):
    """A RunConfig field added later is refused when set (at its default it changes nothing)."""
    monkeypatch.setattr(batched, "PER_MEMBER", tuple(f for f in batched.PER_MEMBER if f != "log_every_steps"))
    assert batchable(mlp()) is None
    assert batchable(mlp(log_every_steps=2)) == "log_every_steps is set and the batched loop does not implement it"


def test_benchmark_reports_a_speedup(capsys):
    result = batched.benchmark(members=2, steps=3, warmup=1, repeats=1, train_subset=256)
    assert result["speedup"] == pytest.approx(result["batched_images_per_s"] / result["sequential_images_per_s"])
    assert batched.main(["--benchmark", "--members", "2", "--steps", "2", "--repeats", "1"]) == 0
    assert "speed-up" in capsys.readouterr().out


# ----- per-step losses in train.train --------------------------------------------------------------

def test_step_losses_are_opt_in_and_keep_old_keys():
    assert "log_every_steps" not in RunConfig(model="model1").identity()
    plain = train(mlp(epochs=1), progress=False)
    logged = train(mlp(epochs=1, log_every_steps=3), progress=False)
    assert "step_losses" not in plain.history[0]
    steps = math.ceil(512 / 64)
    assert len(logged.history[0]["step_losses"]) == math.ceil(steps / 3)
    assert logged.history[0]["train_loss"] == plain.history[0]["train_loss"]  # logging changes no number
    with pytest.raises(ValueError, match="log_every_steps=0"):
        mlp(log_every_steps=0)


# ----- the chapter ---------------------------------------------------------------------------------

def paper():
    return chapter.settings_from({"profile": "paper"})


def test_paper_plan_follows_the_study():
    settings = paper()
    runs = [c for c, _ in chapter.plan(settings)]
    assert len(runs) == len({repr(sorted(c.identity().items())) for c in runs}) == 32
    for c in runs:
        assert (c.model, c.val_fraction, c.normalize, c.optimizer, c.monitor) == ("mlp", 0.2, None, "adam", "val_loss")
        assert (c.epochs, c.patience, c.select_best, c.train_subset) == (50, 5, True, None)
    sweeps = chapter.sweeps(settings)
    assert [label for label, _ in sweeps["batch"]] == [1, 8, 16, 64, 256, 512, 1024]
    assert [label for label, _ in sweeps["lr"]] == [5e-2, 2.05e-3, 2.05e-4, 2.05e-5, 2.05e-6]
    assert {c.loss for _, c in sweeps["loss"]} == {"ce", "mse", "mae"}
    assert all(c.model_args == {"hidden_layers": 1, "width": 128} for _, c in sweeps["loss"])
    assert [c.model_args["hidden_layers"] for _, c in sweeps["depth"]] == [1, 2, 3, 4]
    assert all(c.model_args["width"] == 2096 for _, c in sweeps["depth"])
    best = sweeps["best"][0][1]
    assert (best.model_args, best.batch_size, best.lr, best.loss) == ({"hidden_layers": 2, "width": 4192}, 512, 2.05e-5, "ce")
    # the base point is one run shared by four sweeps
    base = {repr(sorted(c.identity().items())) for sweep in ("depth", "width", "batch", "lr") for label, c in sweeps[sweep]
            if c.model_args == {"hidden_layers": 2, "width": 2096} and c.batch_size == 512 and c.lr == 2.05e-5}
    assert len(base) == 1
    # only the tiny batches, whose steps are mostly the optimiser's, take the fused Adam kernel
    assert [c.batch_size for c in runs if c.fused_optimizer] == [1, 8]
    logged = [c for _, c in sweeps["batch"] if c.log_every_steps]
    assert [c.batch_size for c in logged] == [16] and sweeps["steps"][0][1] == logged[0]
    regularised = [c.model_args for _, c in sweeps["regularisation"]]
    assert {"hidden_layers": 2, "width": 4192, "dropout": 0.2} in regularised
    assert {"hidden_layers": 2, "width": 4192, "batch_norm": True} in regularised


def test_bad_parameters_are_named():
    with pytest.raises(ParameterError, match="losses"):
        chapter.settings_from({"profile": "smoke", "losses": ["hinge"]})
    with pytest.raises(ParameterError, match="lrs"):
        chapter.settings_from({"profile": "smoke", "lrs": [-1.0]})
    with pytest.raises(ParameterError, match="dropouts"):
        chapter.settings_from({"profile": "smoke", "dropouts": [1.5]})


def fake_run(config, val_acc, test_acc=None, train_acc=None, seconds=1.0, epochs=3, best=2):
    history = [{"epoch": e + 1, "train_loss": 1.0, "val_loss": 1.0, "train_acc": train_acc or val_acc,
                "val_acc": val_acc, "train_images": 48000, "train_seconds": seconds, "eval_seconds": 0.1}
               for e in range(epochs)]
    metrics = {"accuracy": test_acc or val_acc, "epochs_run": epochs, "best_epoch": best}
    return StoredRun(key=f"fake-{id(config)}", path=None, config=config, result={"history": history, "metrics": metrics})


def constructed(settings, accuracy, train_acc=None, seconds=None):
    """ChapterRuns whose runs have the validation accuracies ``accuracy(sweep, label)``."""
    runs = {}
    for sweep, pairs in chapter.sweeps(settings).items():
        runs[sweep] = [(label, fake_run(c, accuracy(sweep, label), accuracy(sweep, label) - 0.006, train_acc=train_acc,
                                        seconds=(seconds or {}).get(label, 1.0) if sweep == "batch" else 1.0))
                       for label, c in pairs]
    return chapter.ChapterRuns(runs, settings)


def study_like(sweep, label):
    """Accuracies that follow every statement of the study."""
    base = 0.898  # 2 x 2096, batch 512, lr 2.05e-5: one run in four sweeps
    table = {
        "loss": {"ce": 0.86, "mse": 0.84, "mae": 0.70},
        "depth": {1: 0.880, 2: base, 3: 0.896, 4: 0.888},
        "width": {128: 0.870, 512: 0.885, 1024: 0.890, 2096: base, 4192: 0.900},
        "batch": {1: 0.85, 8: 0.88, 16: 0.89, 64: 0.894, 256: 0.897, 512: base, 1024: 0.890},
        "lr": {5e-2: 0.10, 2.05e-3: 0.880, 2.05e-4: 0.890, 2.05e-5: base, 2.05e-6: 0.850},
        "best": {42: 0.900, 43: 0.901, 44: 0.899},
    }
    if sweep == "steps":
        return table["batch"][label]
    if sweep in table:
        return table[sweep][label]
    return 0.89


def verdicts(runs):
    return {c.claim: c.verdict for c in chapter.claims(runs)}


def test_claims_follow_constructed_results():
    settings = paper()
    seconds = {1: 900.0, 8: 300.0, 16: 200.0, 64: 100.0, 256: 30.0, 512: 40.0, 1024: 50.0}
    good_runs = constructed(settings, study_like, train_acc=0.95, seconds=seconds)
    good = verdicts(good_runs)
    assert set(good.values()) == {REPRODUCED}, good
    width_vs_depth = next(c for c in chapter.claims(good_runs) if c.claim == "Width helps more than depth")
    assert "-> 3 layers (best deeper): -0.20 points" in width_vs_depth.ours  # 3 layers beat 4 here
    timings = chapter.batch_timing_table(good_runs)
    assert timings.loc[1, "seconds per epoch"] == 900.0 and timings.loc[16, "steps per epoch"] == 3000
    assert list(timings["Adam step"]) == ["fused", "fused"] + ["default"] * 5  # which timings are comparable

    def contrary(sweep, label):
        if sweep == "loss":
            return {"ce": 0.84, "mse": 0.86, "mae": 0.70}[label]  # MSE wins
        if sweep == "depth":
            return {1: 0.880, 2: 0.885, 3: 0.886, 4: 0.905}[label]  # 4 layers clearly best
        if sweep == "lr":
            return {5e-2: 0.10, 2.05e-3: 0.880, 2.05e-4: 0.905, 2.05e-5: 0.890, 2.05e-6: 0.850}[label]
        if sweep == "best":
            return {42: 0.850, 43: 0.851, 44: 0.852}[label]
        if sweep == "batch" and label == 64:
            return 0.897  # as accurate as 256-512, and much faster below
        return study_like(sweep, label)

    bad = verdicts(constructed(settings, contrary, seconds={**seconds, 64: 10.0}))
    for claim in ("Best model: validation accuracy", "Cross-entropy beats MSE and MAE", "2-3 hidden layers perform best",
                  "Width helps more than depth", "A learning rate of 2e-5 to 3e-5 is best",
                  "Batch 256-512 is the best trade-off of accuracy and training time",
                  "The study's best configuration is the best of the sweeps",
                  "The best model overfits (train accuracy above validation)"):
        assert bad[claim] == NOT_REPRODUCED, claim


def test_missing_runs_are_shown_as_missing_and_never_judged(tmp_path):
    small = {"base_width": 16, "best_width": 32, "widths": [8, 16, 32], "joint_widths": [8, 32], "loss_width": 8}
    settings = chapter.settings_from({"profile": "paper", "store_dir": str(tmp_path), **small})
    runs = chapter.gather(settings)  # train_missing is False for paper: nothing is trained
    assert not any(tmp_path.glob("runs/*"))
    assert set(verdicts(runs).values()) == {MISSING}
    assert (chapter.overview(runs)["status"] == "missing").all()
    assert chapter.conclusion(runs).startswith("_The conclusion")
    assert chapter.joint_table(runs).isna().all().all()
    assert chapter.sweep_figure(runs, "lr", "x") is None and chapter.step_figure(runs) is None


def test_conclusion_flags_runs_stopped_by_the_epoch_limit_and_speaks_without_the_best_model():
    settings = paper()
    runs = constructed(settings, study_like, train_acc=0.95)
    label, config = chapter.sweeps(settings)["width"][0]
    runs.sweeps["width"][0] = (label, fake_run(config, 0.87, epochs=config.epochs, best=config.epochs))
    assert chapter.capped_runs(runs) == [f"width {label}"]
    assert f"1 stored run used all {settings.epochs} epochs" in chapter.conclusion(runs)
    runs.sweeps["best"] = [(seed, MissingRun("missing-key", config)) for seed, _ in runs.sweeps["best"]]
    text = chapter.conclusion(runs)
    assert "has no stored run yet" in text and "judged claims hold" in text
