"""The step schedule of a training run: steps per epoch, total steps, and when records are
taken. One function, so that the engine and the command check the same things the same way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from credax._src.checks import check_count


class Schedule(NamedTuple):
    """When a run steps and records.

    Attributes:
        steps_per_epoch: steps per epoch.
        total_steps: steps of the whole run.
        eval_every: steps between records.
        eval_steps: the training step of each record (the first is 0, before training).
    """

    steps_per_epoch: int
    total_steps: int
    eval_every: int
    eval_steps: tuple[int, ...]


def make_schedule(
    *,
    n_examples: int | None,
    batch_size: int,
    epochs: int,
    eval_every: int | None = None,
    steps_per_epoch: int | None = None,
    names: Mapping[str, str] | None = None,
) -> Schedule:
    """The schedule of ``epochs`` epochs of ``batch_size`` examples, checked.

    Args:
        n_examples: training examples (an epoch is ``n_examples // batch_size`` steps, the last
            partial batch dropped), or None for sampled data with ``steps_per_epoch``.
        batch_size: examples per step.
        epochs: epochs.
        eval_every: steps between records, any divisor of the total (default: once per epoch).
        steps_per_epoch: steps per epoch of sampled data.
        names: how to name the arguments in messages (the command names its flags).

    Raises:
        ValueError, TypeError: naming the argument and what was expected.
    """
    name = {"batch_size": "batch_size", "epochs": "epochs", "eval_every": "eval_every"}
    name.update(names or {})
    epochs = check_count(name["epochs"], epochs)
    batch_size = check_count(name["batch_size"], batch_size)
    if n_examples is None:
        if steps_per_epoch is None:
            raise ValueError("a sampler as train data needs steps_per_epoch >= 1")
        spe = check_count("steps_per_epoch", steps_per_epoch)
    else:
        if steps_per_epoch is not None:
            raise ValueError("steps_per_epoch is for sampled training data; arrays set it by size")
        spe = n_examples // batch_size
        if spe < 1:
            raise ValueError(
                f"{name['batch_size']} {batch_size} exceeds the {n_examples} training examples"
            )
    total = epochs * spe
    k = spe if eval_every is None else check_count(name["eval_every"], eval_every)
    if total % k:
        raise ValueError(
            f"{name['eval_every']} must divide the {total} training steps ({spe} per epoch), "
            f"got {k}"
        )
    return Schedule(spe, total, k, tuple(i * k for i in range(total // k + 1)))
