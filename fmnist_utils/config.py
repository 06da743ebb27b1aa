"""The run configuration: everything that decides a run's numbers, and nothing else.

A run's store key is a hash of this configuration plus the built model's printed structure; what the
model computes is checked on every read against a fingerprint recorded with the run (``fingerprint``),
so editing a model's definition never reuses a stale result. Settings that do not change the numbers (device,
threads, progress bars) are arguments of ``train``/``get_or_train`` instead.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace

LOSSES = ("ce", "mse", "mae")
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = (None, "plateau")
MONITORS = ("val_loss", "val_acc", "test_loss", "test_acc", "last")
TRAIN_SETS = ("train", "train+test")
DATASETS = ("fashion_mnist", "digits")
EVAL_SETS = ("test", "train")
# "float32": every operation in float32, as the published runs trained. "bfloat16": the forward pass runs
# under torch.autocast(dtype=torch.bfloat16) (matrix multiplies and convolutions in bfloat16); the loss,
# the backward's accumulation into float32 weights and the optimiser stay float32.
PRECISIONS = ("float32", "bfloat16")

# Bump when the training loop changes in a way that changes numbers: every stored run is then retrained.
ENGINE_VERSION = 1


@dataclass(frozen=True)
class RunConfig:
    model: str
    model_args: dict = field(default_factory=dict)
    # data
    dataset: str = "fashion_mnist"  # "fashion_mnist"; "digits" loads scikit-learn's 8x8 digits (diagnosis only)
    val_fraction: float = 0.1  # of the 60k training images, held out for validation
    split_seed: int = 42  # seed of the train/validation split (random_split semantics)
    train_subset: int | None = None  # use only the first n training images of the split (smoke runs)
    eval_subset: int | None = None  # evaluate on only the first n validation/test images
    normalize: tuple[float, float] | None = (0.2860, 0.3530)  # (mean, std) on [0, 1] pixels; None = [0, 1]
    augment: dict = field(default_factory=dict)  # AugmentSpec fields, e.g. {"crop_padding": 4, "hflip": 0.5}
    train_on: str = "train"  # "train+test" trains on the test images too: a deliberate leak for diagnosis
    eval_on: str = "test"  # "train" reports accuracy on training images: a deliberate mistake for diagnosis
    # optimisation
    loss: str = "ce"  # ce | mse | mae (mse/mae compare softmax outputs with one-hot targets)
    optimizer: str = "adam"
    # PyTorch's single-kernel optimiser step (same update rule, different float rounding). At batch 1-8
    # the optimiser step dominates each step; the default keeps the stored runs' per-tensor kernels.
    fused_optimizer: bool = False
    lr: float = 1e-3
    weight_decay: float = 0.0
    scheduler: str | None = None  # None | "plateau" (ReduceLROnPlateau on the monitored loss)
    scheduler_args: dict = field(default_factory=dict)
    epochs: int = 12
    steps_per_epoch: int | None = None  # None = one pass over the training set
    val_steps: int | None = None  # None = the whole validation set; else this many batches
    batch_size: int = 128
    eval_batch_size: int = 1000
    monitor: str = "val_loss"  # what early stopping, the scheduler and best-checkpoint selection watch
    patience: int | None = None  # early stopping after this many epochs without strict improvement
    select_best: bool = True  # restore the best checkpoint (by `monitor`) before the final evaluation
    eval_at_epochs: tuple[int, ...] = ()  # also evaluate on the eval set after these epochs
    track_test: bool = False  # evaluate on the test set every epoch (needed when monitoring test metrics)
    seed: int = 42  # initialisation, shuffling, augmentation and dropout
    # arithmetic (PRECISIONS): "bfloat16" is faster where the device has bfloat16 instructions (train.fast_bfloat16)
    # and gives other numbers; the default adds nothing to the key
    precision: str = "float32"
    # logging (opt-in; the default None adds nothing to the key or the history)
    log_every_steps: int | None = None  # also record the loss of every n-th step: history rows get "step_losses"

    def __post_init__(self):
        problems = []
        if self.loss not in LOSSES:
            problems.append(f"loss={self.loss!r} (allowed: {', '.join(LOSSES)})")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer={self.optimizer!r} (allowed: {', '.join(OPTIMIZERS)})")
        if self.scheduler not in SCHEDULERS:
            problems.append(f"scheduler={self.scheduler!r} (allowed: None, 'plateau')")
        if self.monitor not in MONITORS:
            problems.append(f"monitor={self.monitor!r} (allowed: {', '.join(MONITORS)})")
        if self.dataset not in DATASETS:
            problems.append(f"dataset={self.dataset!r} (allowed: {', '.join(DATASETS)})")
        if self.train_on not in TRAIN_SETS:
            problems.append(f"train_on={self.train_on!r} (allowed: {', '.join(TRAIN_SETS)})")
        if self.eval_on not in EVAL_SETS:
            problems.append(f"eval_on={self.eval_on!r} (allowed: {', '.join(EVAL_SETS)})")
        if self.precision not in PRECISIONS:
            problems.append(f"precision={self.precision!r} (allowed: {', '.join(PRECISIONS)})")
        for name in ("epochs", "batch_size", "eval_batch_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                problems.append(f"{name}={getattr(self, name)!r} (must be a positive integer)")
        for name in ("steps_per_epoch", "val_steps", "train_subset", "eval_subset", "patience", "log_every_steps"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                problems.append(f"{name}={value!r} (must be None or a positive integer)")
        if not isinstance(self.fused_optimizer, bool):
            problems.append(f"fused_optimizer={self.fused_optimizer!r} (must be True or False)")
        if not (self.lr > 0):
            problems.append(f"lr={self.lr!r} (must be positive)")
        if self.monitor.startswith("val") and self.val_fraction == 0 and (self.patience or self.select_best):
            problems.append("monitor on validation with val_fraction=0 (no validation split to watch)")
        if self.monitor.startswith("test") and not self.track_test:
            problems.append(f"monitor={self.monitor!r} needs track_test=True")
        if problems:
            raise ValueError("invalid run configuration: " + "; ".join(problems))
        # Normalise containers so equal configurations hash equally.
        object.__setattr__(self, "eval_at_epochs", tuple(sorted(self.eval_at_epochs)))
        if self.normalize is not None:
            object.__setattr__(self, "normalize", tuple(float(v) for v in self.normalize))

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self)))

    def identity(self) -> dict:
        """The fields that differ from their defaults: what the store key hashes.

        Hashing only non-default fields lets a new field (with a default) join later without
        changing the key of any stored run. The converse rule: never change a default.
        """
        mine, defaults = self.to_dict(), RunConfig(model=self.model).to_dict()
        return {name: value for name, value in mine.items() if name == "model" or value != defaults[name]}

    @classmethod
    def from_dict(cls, data: dict) -> "RunConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown run configuration fields {unknown}; known: {sorted(known)}")
        data = dict(data)
        if data.get("normalize") is not None:
            data["normalize"] = tuple(data["normalize"])
        if "eval_at_epochs" in data:
            data["eval_at_epochs"] = tuple(data["eval_at_epochs"])
        return cls(**data)

    def replace(self, **changes) -> "RunConfig":
        return replace(self, **changes)


def canonical_json(data) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def run_key(config: RunConfig, model_structure: str) -> str:
    """``<model>-<12 hex>``: readable in a directory listing, unique by content."""
    payload = canonical_json({"config": config.identity(), "model": model_structure, "engine": ENGINE_VERSION})
    return f"{config.model}-{hashlib.sha256(payload.encode()).hexdigest()[:12]}"


# ----- classical (scikit-learn / LightGBM) baselines: a second kind of store entry -----------------------------

CLASSICAL_ESTIMATORS = (
    "MLPClassifier", "KNeighborsClassifier", "GaussianNB", "DecisionTreeClassifier", "SVC", "LGBMClassifier",
    "RandomForestClassifier", "ExtraTreesClassifier", "LogisticRegression",
)
# Bump when the classical pipeline (features, fitting, prediction) changes: every classical run is then refitted.
CLASSICAL_VERSION = 1


@dataclass(frozen=True)
class ClassicalConfig:
    """A classical baseline on the 784 pixel values in [0, 1]: everything that decides its numbers.

    ``params`` are the estimator's constructor arguments that the study fixes (for instance
    ``{"n_neighbors": 5}``); every other argument keeps the library's default, which is why the store
    key also hashes the scikit-learn (and, for LightGBM, lightgbm) version. Settings that do not
    change the numbers (``n_jobs``, verbosity) are chosen by ``classical.fit_classical``.
    """

    estimator: str  # a class name from CLASSICAL_ESTIMATORS
    params: dict = field(default_factory=dict)  # constructor arguments, JSON-serialisable
    train_subset: int | None = None  # fit on only the first n of the 60,000 training images
    eval_subset: int | None = None  # predict only the first n of the 10,000 test images
    seed: int = 42  # random_state, for estimators that take one

    def __post_init__(self):
        problems = []
        if self.estimator not in CLASSICAL_ESTIMATORS:
            problems.append(f"estimator={self.estimator!r} (allowed: {', '.join(CLASSICAL_ESTIMATORS)})")
        if not isinstance(self.params, dict):
            problems.append(f"params={self.params!r} (must be a dict of constructor arguments)")
        for name in ("train_subset", "eval_subset"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                problems.append(f"{name}={value!r} (must be None or a positive integer)")
        if problems:
            raise ValueError("invalid classical configuration: " + "; ".join(problems))
        # JSON round trip: tuples become lists, so a configuration equals its stored copy.
        object.__setattr__(self, "params", json.loads(json.dumps(self.params, sort_keys=True)))

    @property
    def model(self) -> str:
        """The name listings show (a run configuration names its model the same way)."""
        return self.estimator

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self)))

    def identity(self) -> dict:
        mine, defaults = self.to_dict(), ClassicalConfig(estimator=self.estimator).to_dict()
        return {name: value for name, value in mine.items() if name == "estimator" or value != defaults[name]}

    @classmethod
    def from_dict(cls, data: dict) -> "ClassicalConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown classical configuration fields {unknown}; known: {sorted(known)}")
        return cls(**data)

    def replace(self, **changes) -> "ClassicalConfig":
        return replace(self, **changes)


def classical_libraries(estimator: str) -> dict:
    """Versions of the libraries whose defaults decide an estimator's numbers."""
    from importlib.metadata import version

    libraries = {"scikit-learn": version("scikit-learn")}
    if estimator == "LGBMClassifier":
        libraries["lightgbm"] = version("lightgbm")
    return libraries


def classical_key(config: ClassicalConfig) -> str:
    """``<estimator>-<12 hex>``, hashing the configuration, the library versions and the pipeline version."""
    payload = canonical_json({"config": config.identity(), "libraries": classical_libraries(config.estimator),
                              "classical": CLASSICAL_VERSION})
    return f"{config.estimator}-{hashlib.sha256(payload.encode()).hexdigest()[:12]}"


def config_from_dict(data: dict) -> "RunConfig | ClassicalConfig":
    """Either kind of configuration from its stored dictionary (a classical one names an ``estimator``)."""
    return ClassicalConfig.from_dict(data) if "estimator" in data else RunConfig.from_dict(data)
