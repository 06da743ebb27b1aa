"""Classical baselines (scikit-learn and LightGBM) on the 784 pixel values of Fashion-MNIST.

A baseline is described by a ``config.ClassicalConfig`` (estimator class name, the constructor
arguments a study fixes, subsets, seed) and stored like any other run: ``ResultStore.get_or_train``
calls ``fit_classical`` for it, and the store entry holds the metrics, the test-set predictions and
the fit and predict times. Preprocessing is the one the studies describe: each image flattened to
784 features scaled to [0, 1], nothing else.
"""
from __future__ import annotations

import importlib
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .config import CLASSICAL_ESTIMATORS, ClassicalConfig, classical_libraries
from .data import load_fashion_mnist

# Where each estimator class lives.
MODULES = {
    "MLPClassifier": "sklearn.neural_network",
    "KNeighborsClassifier": "sklearn.neighbors",
    "GaussianNB": "sklearn.naive_bayes",
    "DecisionTreeClassifier": "sklearn.tree",
    "SVC": "sklearn.svm",
    "LGBMClassifier": "lightgbm",
    "RandomForestClassifier": "sklearn.ensemble",
    "ExtraTreesClassifier": "sklearn.ensemble",
    "LogisticRegression": "sklearn.linear_model",
}
assert tuple(MODULES) == CLASSICAL_ESTIMATORS

# Short names as tables show them.
LABELS = {
    "MLPClassifier": "MLP", "KNeighborsClassifier": "KNN", "GaussianNB": "GaussianNB",
    "DecisionTreeClassifier": "Decision Tree", "SVC": "SVM", "LGBMClassifier": "LightGBM",
    "RandomForestClassifier": "Random Forest", "ExtraTreesClassifier": "Extra Trees",
    "LogisticRegression": "Logistic Regression",
}


# Estimators whose ``n_jobs`` spreads the work over threads (LogisticRegression's is deprecated and idle).
PARALLEL = ("KNeighborsClassifier", "LGBMClassifier", "RandomForestClassifier", "ExtraTreesClassifier")


def estimator_class(name: str):
    if name not in MODULES:
        raise ValueError(f"unknown estimator {name!r}; known: {', '.join(MODULES)}")
    return getattr(importlib.import_module(MODULES[name]), name)


def features(images) -> np.ndarray:
    """uint8 images (N, 28, 28) -> float32 (N, 784) in [0, 1]."""
    images = np.asarray(images)
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0)


def build_estimator(config: ClassicalConfig, threads: int = 1):
    """The configured estimator, with ``random_state=seed`` and ``n_jobs=threads`` where it takes them.

    Neither ``n_jobs`` nor LightGBM's ``verbose`` changes a scikit-learn result, so they are not part
    of the configuration (LightGBM's histogram sums can differ in the last bits between thread counts).
    """
    cls = estimator_class(config.estimator)
    params = dict(config.params)
    if "random_state" in cls().get_params():
        params.setdefault("random_state", config.seed)
    if config.estimator in PARALLEL:
        params.setdefault("n_jobs", threads)
    if config.estimator == "LGBMClassifier":
        params.setdefault("verbose", -1)
    return cls(**params)


@dataclass
class ClassicalResult:
    """What ``ResultStore.put`` stores for a classical run."""

    config: ClassicalConfig
    metrics: dict
    predictions: dict[str, np.ndarray]  # "pred" (uint8) and "confidence" (float16, NaN: not computed)
    fit_seconds: float
    predict_seconds: float
    threads: int
    details: dict = field(default_factory=dict)  # iterations, convergence warnings, library versions


def eval_labels(config: ClassicalConfig) -> np.ndarray:
    """True labels aligned with a classical run's stored predictions."""
    return load_fashion_mnist().test_labels[: config.eval_subset].numpy()


def fit_classical(config: ClassicalConfig, threads: int | None = None) -> ClassicalResult:
    """Fit on the (first ``train_subset``) training images, predict the (first ``eval_subset``) test images."""
    from threadpoolctl import threadpool_limits

    from .evaluate import summary_metrics

    threads = threads or 1
    data = load_fashion_mnist()
    x_train = features(data.train_images[: config.train_subset].numpy())
    y_train = data.train_labels[: config.train_subset].numpy()
    x_test = features(data.test_images[: config.eval_subset].numpy())
    y_test = data.test_labels[: config.eval_subset].numpy()
    estimator = build_estimator(config, threads)
    with threadpool_limits(limits=threads), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        started = time.perf_counter()
        estimator.fit(x_train, y_train)
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        predicted = np.asarray(estimator.predict(x_test))
        predict_seconds = time.perf_counter() - started
    messages = sorted({f"{w.category.__name__}: {str(w.message).splitlines()[0]}" for w in caught})
    details = {"warnings": messages, "converged": not any(m.startswith("ConvergenceWarning") for m in messages),
               "libraries": classical_libraries(config.estimator), "train_images": len(y_train)}
    if hasattr(estimator, "n_iter_"):
        details["n_iter"] = np.asarray(estimator.n_iter_).ravel().tolist()
    metrics = summary_metrics(y_test, predicted)
    return ClassicalResult(
        config=config, metrics=metrics,
        predictions={"pred": predicted.astype(np.uint8), "confidence": np.full(len(predicted), np.nan, np.float16)},
        fit_seconds=fit_seconds, predict_seconds=predict_seconds, threads=threads, details=details,
    )
