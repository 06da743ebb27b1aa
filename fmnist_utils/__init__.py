"""Shared helpers of the Fashion-MNIST reproducibility book.

One module per concern: ``data`` (find, verify, load, split), ``augment`` (batched tensor
augmentation), ``models`` (one module per family), ``train`` (the one training loop), ``evaluate``
(metrics and predictions), ``store`` (the results store and ``get_or_train``), ``plots``,
``activations``, ``classical``, ``sweep`` and ``cli``. Chapters import what they need; this file
stays light so ``import fmnist_utils`` is cheap.
"""
__version__ = "0.1.0"
