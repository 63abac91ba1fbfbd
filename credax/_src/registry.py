"""One place mapping short rule names to factories, for scripts and the command line."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

from credax._src import feedback, perturbation
from credax._src.rule import LearningRule, backprop


class RuleEntry(NamedTuple):
    factory: Callable[..., LearningRule]
    label: str
    description: str
    reference: str
    family: str = "feedback"  # "feedback" (and the backprop baseline) or "perturbation"


RULES: dict[str, RuleEntry] = {
    "bp": RuleEntry(backprop, "BP", "backpropagation (exact gradient)", "Rumelhart et al. 1986"),
    "fa": RuleEntry(
        feedback.feedback_alignment, "FA", "fixed random feedback B_l", "Lillicrap et al. 2016"
    ),
    "dfa": RuleEntry(
        feedback.direct_feedback_alignment,
        "DFA",
        "output error sent to every hidden layer",
        "Nøkland 2016",
    ),
    "usf": RuleEntry(
        feedback.sign_symmetry, "uSF", "B = s·sign(W), uniform magnitude", "Liao et al. 2016"
    ),
    "brsf": RuleEntry(
        partial(feedback.sign_symmetry, random_magnitude=True, redraw=True),
        "brSF",
        "B = |R|∘sign(W), R redrawn each batch",
        "Xiao et al. 2018",
    ),
    "frsf": RuleEntry(
        partial(feedback.sign_symmetry, random_magnitude=True),
        "frSF",
        "B = |R|∘sign(W), R fixed",
        "Xiao et al. 2018",
    ),
    "kp": RuleEntry(
        feedback.kolen_pollack, "KP", "B learns W's own update plus decay", "Akrout et al. 2019"
    ),
    "wm": RuleEntry(
        feedback.weight_mirror,
        "WM",
        "B learns W from noise-driven mirror mode",
        "Akrout et al. 2019",
    ),
    "wp": RuleEntry(
        perturbation.weight_perturbation,
        "WP",
        "loss change under Gaussian noise on every weight",
        "Jabri & Flower 1992; Seung 2003",
        "perturbation",
    ),
    "np": RuleEntry(
        perturbation.node_perturbation,
        "NP",
        "loss change under noise on every unit, per example",
        "Mazzoni et al. 1991; Werfel et al. 2005",
        "perturbation",
    ),
    "reinforce": RuleEntry(
        perturbation.reinforce,
        "REINFORCE",
        "Gaussian stochastic units, reward minus running baseline",
        "Williams 1992",
        "perturbation",
    ),
    "agrel": RuleEntry(
        perturbation.agrel,
        "AGREL",
        "sampled action, RPE, gated feedback from the chosen unit",
        "Roelfsema & van Ooyen 2005",
        "perturbation",
    ),
    "fg": RuleEntry(
        perturbation.forward_gradient,
        "FG",
        "forward gradient, random tangent on the weights (jvp)",
        "Baydin et al. 2022",
        "perturbation",
    ),
    "fga": RuleEntry(
        partial(perturbation.forward_gradient, activity=True),
        "FG-A",
        "forward gradient, random tangent on the activities",
        "Ren et al. 2022",
        "perturbation",
    ),
}


def family(name: str) -> list[str]:
    """Names of the registered rules of one family (``"feedback"`` includes backprop)."""
    return [n for n, e in RULES.items() if e.family == name]


def make_rule(name: str, loss: Callable, **options) -> LearningRule:
    """The rule registered as ``name`` built for ``loss``."""
    if name not in RULES:
        raise ValueError(f"unknown rule {name!r}; expected one of {', '.join(RULES)}")
    return RULES[name].factory(loss, **options)
