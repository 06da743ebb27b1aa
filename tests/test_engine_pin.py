"""The engine's numbers, pinned for the current ``ENGINE_VERSION``.

``ENGINE_VERSION`` is part of every stored run's key: a change to the training engine that changes its
numbers must bump it, so that the store retrains instead of mixing old and new numbers. This test makes
such a change visible. A few steps of real training on fixed Fashion-MNIST subsets, covering the
engine's pieces (augmentation and its fill, batch norm, dropout, channels_last, Adam, AdamW, SGD with
momentum and weight decay, ReduceLROnPlateau, the cross-entropy and MSE losses, evaluation, best-
checkpoint selection, the batched trainer), must reproduce the loss trajectories, learning rates,
accuracies and parameter checksums pinned below for the current version.

The pins are per machine kind (torch version, CPU vendor, vector instruction set), since other float
kernels round differently: on a pinned kind the numbers must agree to a relative 1e-6; on every kind they
must agree loosely with every pin (a relative 1e-3 on losses and parameter sums), and an unpinned kind
says so in a skip. To pin a new version or machine kind: ``python tests/test_engine_pin.py`` prints the
current values as a ``PINNED`` entry.
"""
from __future__ import annotations

import math
import textwrap

import pytest
import torch

from fmnist_utils.batched import train_batched
from fmnist_utils.config import ENGINE_VERSION, RunConfig
from fmnist_utils.train import cpuinfo_field, train

CHANGED = ("the engine's numbers changed: if intended, bump ENGINE_VERSION in fmnist_utils/config.py (every stored "
           "run is then retrained) and pin the new trajectory here")
HOW_TO_PIN = "python tests/test_engine_pin.py prints the current numbers as a PINNED entry"
# On one kind of machine (CI's) with one thread, repeated runs, in one process or in fresh ones, agree to
# the bit. A relative 1e-6 still catches small changes: Adam's eps at 1e-7 instead of 1e-8 moves the CNN's
# step losses by up to 3e-6 and its parameter sum by 4e-5.
REL = 1e-6
# Another kind of CPU runs other float kernels, so only a loose check holds across machines: continuous
# numbers within a relative 1e-3 (accuracies, which move in steps of one image, are left out). It still
# catches a moved dropout, a changed fill or loss; the exact pin catches the rest on a machine it was made on.
LOOSE = 1e-3


def platform() -> str:
    """What decides the float kernels: torch's version, the CPU's vendor and its vector instruction set."""
    vendor = cpuinfo_field("vendor_id") or "unknown CPU"
    return f"torch {torch.__version__}, {vendor}, {torch.backends.cpu.get_cpu_capability()}"


def _mlp(**changes) -> RunConfig:
    base = dict(model="mlp", model_args={"hidden_layers": 2, "width": 32}, normalize=None, val_fraction=0.2,
                train_subset=256, eval_subset=200, batch_size=32, steps_per_epoch=4, epochs=2, log_every_steps=1)
    return RunConfig(**{**base, **changes})


CASES = {
    # Model-2's structure, narrowed: BatchNorm2d, Dropout, channels_last; random crops (padded with the
    # normalised black) and flips; Adam; the best of two epochs by validation loss
    "cnn, batch norm, dropout, crop + flip, adam": RunConfig(
        model="model2", model_args={"widths": [8, 8, 16]}, augment={"crop_padding": 4, "hflip": 0.5},
        train_subset=256, eval_subset=200, batch_size=32, steps_per_epoch=4, epochs=2, log_every_steps=1, seed=7),
    # momentum SGD with weight decay at a rate that overshoots, so the plateau scheduler halves it
    "mlp, sgd, plateau scheduler": _mlp(optimizer="sgd", lr=0.5, weight_decay=1e-3, scheduler="plateau",
                                        scheduler_args={"factor": 0.5, "patience": 0}, epochs=3, seed=11),
    "mlp, mse loss, adamw": _mlp(loss="mse", optimizer="adamw", lr=3e-3, weight_decay=0.01, seed=12),
}
BATCHED = [_mlp(lr=2e-3, seed=21), _mlp(loss="mse", lr=5e-3, seed=22, optimizer="adamw", weight_decay=0.05)]


def numbers(result) -> dict:
    """What the pin compares: every step's loss, the epochs' rows, the final evaluation, the parameters."""
    params = [p.detach().double() for p in result.model.state_dict().values() if p.is_floating_point()]
    return {
        "step_losses": [loss for row in result.history for loss in row["step_losses"]],
        "lr": [row["lr"] for row in result.history],
        "val_loss": [row["val_loss"] for row in result.history],
        "val_acc": [row["val_acc"] for row in result.history],
        "best_epoch": result.best_epoch,
        "test_loss": result.metrics["loss"],
        "test_acc": result.metrics["accuracy"],
        "param_sum": sum(p.sum().item() for p in params),
        "param_sum_sq": sum(p.square().sum().item() for p in params),
    }


def current() -> dict[str, dict]:
    """The numbers of every case, trained now on the CPU with one thread."""
    previous = torch.get_num_threads()
    try:
        got = {name: numbers(train(config, device="cpu", threads=1, progress=False)) for name, config in CASES.items()}
        for number, result in enumerate(train_batched(BATCHED, device="cpu", threads=1)):
            got[f"batched mlp group, member {number}"] = numbers(result)
    finally:
        torch.set_num_threads(previous)
    return got


PINNED = {
    1: {
        "torch 2.14.1+cu130, GenuineIntel, AVX512": {
            "cnn, batch norm, dropout, crop + flip, adam": {
                "step_losses": [2.3517467975616455, 2.332266092300415, 2.3030331134796143, 2.2464096546173096,
                    2.2727832794189453, 2.2817373275756836, 2.2636148929595947, 2.299290657043457],
                "lr": [0.001, 0.001],
                "val_loss": [2.299156904220581, 2.298835515975952],
                "val_acc": [0.11, 0.11],
                "best_epoch": 2,
                "test_loss": 2.3072867393493652,
                "test_acc": 0.08,
                "param_sum": 85.43728679583364,
                "param_sum_sq": 154.79712452593034,
            },
            "mlp, sgd, plateau scheduler": {
                "step_losses": [2.315607786178589, 2.2625367641448975, 2.269577741622925, 2.303715944290161,
                    2.2329907417297363, 2.190721035003662, 1.9364709854125977, 2.014744281768799,
                    3.2326624393463135, 3.410496950149536, 4.118347644805908, 3.3583357334136963],
                "lr": [0.5, 0.5, 0.25],
                "val_loss": [2.252307176589966, 3.045593023300171, 2.865952968597412],
                "val_acc": [0.145, 0.205, 0.185],
                "best_epoch": 1,
                "test_loss": 2.184581756591797,
                "test_acc": 0.15,
                "param_sum": -25.51571273298498,
                "param_sum_sq": 26.035611236997923,
            },
            "mlp, mse loss, adamw": {
                "step_losses": [0.0901774913072586, 0.08917906880378723, 0.08842003345489502, 0.0883486419916153,
                    0.08838671445846558, 0.08634030818939209, 0.08274561166763306, 0.08564332127571106],
                "lr": [0.003, 0.003],
                "val_loss": [0.08850106596946716, 0.08642646670341492],
                "val_acc": [0.165, 0.23],
                "best_epoch": 2,
                "test_loss": 0.08391906321048737,
                "test_acc": 0.295,
                "param_sum": -5.77811949910847,
                "param_sum_sq": 28.38035600432865,
            },
            "batched mlp group, member 0": {
                "step_losses": [2.303290605545044, 2.362344741821289, 2.2333931922912598, 2.280735731124878,
                    2.198328971862793, 2.162052631378174, 2.141597270965576, 2.0871310234069824],
                "lr": [0.002, 0.002],
                "val_loss": [2.201530933380127, 2.109381675720215],
                "val_acc": [0.27, 0.315],
                "best_epoch": 2,
                "test_loss": 2.093290328979492,
                "test_acc": 0.31,
                "param_sum": -6.622901265833207,
                "param_sum_sq": 26.421632892928937,
            },
            "batched mlp group, member 1": {
                "step_losses": [0.089840367436409, 0.08921589702367783, 0.087781623005867, 0.0911363959312439,
                    0.08605174720287323, 0.08663011342287064, 0.08954590559005737, 0.08604899048805237],
                "lr": [0.005, 0.005],
                "val_loss": [0.08903411030769348, 0.08683080226182938],
                "val_acc": [0.22, 0.2],
                "best_epoch": 2,
                "test_loss": 0.0852401852607727,
                "test_acc": 0.235,
                "param_sum": -52.527729940415156,
                "param_sum_sq": 33.17613486191326,
            },
        },
        "torch 2.14.1+cu130, AuthenticAMD, AVX512": {
            "cnn, batch norm, dropout, crop + flip, adam": {
                "step_losses": [2.3517467975616455, 2.332266092300415, 2.3030331134796143, 2.2464096546173096,
                    2.2727832794189453, 2.2817373275756836, 2.2636148929595947, 2.299290657043457],
                "lr": [0.001, 0.001],
                "val_loss": [2.299156904220581, 2.298835515975952],
                "val_acc": [0.11, 0.11],
                "best_epoch": 2,
                "test_loss": 2.3072867393493652,
                "test_acc": 0.08,
                "param_sum": 85.43728696565086,
                "param_sum_sq": 154.79712411931067,
            },
            "mlp, sgd, plateau scheduler": {
                "step_losses": [2.3156075477600098, 2.2625367641448975, 2.269577980041504, 2.303715705871582,
                    2.2329907417297363, 2.190721035003662, 1.9364707469940186, 2.014744281768799,
                    3.2326626777648926, 3.4104971885681152, 4.118354320526123, 3.3583383560180664],
                "lr": [0.5, 0.5, 0.25],
                "val_loss": [2.252307176589966, 3.0455925464630127, 2.8659536838531494],
                "val_acc": [0.145, 0.205, 0.185],
                "best_epoch": 1,
                "test_loss": 2.184581756591797,
                "test_acc": 0.15,
                "param_sum": -25.515711964587467,
                "param_sum_sq": 26.03561126361915,
            },
            "mlp, mse loss, adamw": {
                "step_losses": [0.0901774913072586, 0.08917906880378723, 0.08842003345489502,
                    0.0883486419916153, 0.08838671445846558, 0.08634030073881149, 0.08274561166763306,
                    0.08564332127571106],
                "lr": [0.003, 0.003],
                "val_loss": [0.08850106596946716, 0.08642646670341492],
                "val_acc": [0.165, 0.23],
                "best_epoch": 2,
                "test_loss": 0.08391906321048737,
                "test_acc": 0.295,
                "param_sum": -5.778119374522248,
                "param_sum_sq": 28.38035594139604,
            },
            "batched mlp group, member 0": {
                "step_losses": [2.303290605545044, 2.362344741821289, 2.2333931922912598, 2.280735969543457,
                    2.198328971862793, 2.162052869796753, 2.141597270965576, 2.0871310234069824],
                "lr": [0.002, 0.002],
                "val_loss": [2.201530694961548, 2.1093811988830566],
                "val_acc": [0.27, 0.315],
                "best_epoch": 2,
                "test_loss": 2.093290090560913,
                "test_acc": 0.31,
                "param_sum": -6.6229006916564686,
                "param_sum_sq": 26.421632878618738,
            },
            "batched mlp group, member 1": {
                "step_losses": [0.089840367436409, 0.08921589702367783, 0.087781623005867, 0.0911363810300827,
                    0.08605174720287323, 0.08663011342287064, 0.08954590559005737, 0.08604899048805237],
                "lr": [0.005, 0.005],
                "val_loss": [0.08903411030769348, 0.08683080226182938],
                "val_acc": [0.22, 0.2],
                "best_epoch": 2,
                "test_loss": 0.0852401852607727,
                "test_acc": 0.235,
                "param_sum": -52.5277332023652,
                "param_sum_sq": 33.1761344384495,
            },
        },
    },
}


def differences(got, want, where: str = "", rel: float = REL) -> list[str]:
    """Where ``got`` differs from ``want``: floats beyond ``rel``, anything else when unequal. With a loose
    ``rel`` (another machine) only continuous numbers are compared: accuracies and the best epoch are skipped."""
    if isinstance(want, dict):
        if set(got) != set(want):
            return [f"{where}: keys {sorted(got)} != {sorted(want)}"]
        keys = [k for k in want if rel == REL or k not in ("val_acc", "test_acc", "best_epoch")]
        return [d for key in keys for d in differences(got[key], want[key], f"{where}[{key!r}]", rel)]
    if isinstance(want, list):
        if len(got) != len(want):
            return [f"{where}: {len(got)} values, pinned {len(want)}"]
        return [d for i, (g, w) in enumerate(zip(got, want)) for d in differences(g, w, f"{where}[{i}]", rel)]
    if isinstance(want, float):
        return [] if math.isclose(got, want, rel_tol=rel, abs_tol=0.0) else [f"{where}: {got!r}, pinned {want!r}"]
    return [] if got == want else [f"{where}: {got!r}, pinned {want!r}"]


@pytest.fixture(scope="module")
def got() -> dict[str, dict]:
    return current()


@pytest.mark.parametrize("case", list(CASES) + [f"batched mlp group, member {n}" for n in range(len(BATCHED))])
def test_the_engine_reproduces_its_pinned_numbers(got, case):
    assert PINNED.get(ENGINE_VERSION), (f"no numbers pinned for ENGINE_VERSION {ENGINE_VERSION}: pin them in {__file__} "
                                        f"({HOW_TO_PIN})")
    for machine, cases in PINNED[ENGINE_VERSION].items():  # every machine: the loose check
        found = differences(got[case], cases[case], rel=LOOSE)
        assert not found, f"{CHANGED} ({HOW_TO_PIN}; against the pin of {machine})\n" + "\n".join(found[:10])
    if platform() not in PINNED[ENGINE_VERSION]:
        pytest.skip(f"no exact pin for this machine ({platform()}); the loose check passed. {HOW_TO_PIN} for it")
    found = differences(got[case], PINNED[ENGINE_VERSION][platform()][case])
    assert not found, f"{CHANGED} ({HOW_TO_PIN})\n" + "\n".join(found[:10])


def pinned_entry(got: dict[str, dict]) -> str:
    """``got`` as the lines of a ``PINNED`` entry for the current version, laid out as the one above."""
    lines = [f"    {ENGINE_VERSION}: {{", f'        "{platform()}": {{']
    for case, values in got.items():
        lines.append(f'            "{case}": {{')
        lines += [textwrap.fill(f"{value!r},", width=112, initial_indent=f'                "{key}": ',
                                subsequent_indent=" " * 20, break_long_words=False,
                                break_on_hyphens=False) for key, value in values.items()]
        lines.append("            },")
    return "\n".join(lines + ["        },", "    },"])


if __name__ == "__main__":
    print(pinned_entry(current()))
