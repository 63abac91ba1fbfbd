"""The one table of rules, read by the library, the command and the tests alike.

Each ``RuleEntry`` says how to build a rule (its factory and options), what it is (label, family,
task, description, reference), what it records (diagnostics) and what it promises (capability
flags the test suite checks). A new rule is one factory plus one line here: the contract,
reduction, learning and error tests are parametrised over this table.

Names: every entry has a short name (``fa``), a label (``FA``) and a factory name
(``feedback_alignment``); ``lookup`` accepts any of them (labels case-insensitively). A factory
name shared by several entries (``sign_symmetry``: uSF, frSF, brSF) means the entry with the
factory's default options.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import optax

from credax._src import energy, feedback, perturbation, target
from credax._src.rule import LearningRule, backprop
from credax._src.tasks import SUPERVISED, TASKS


@dataclasses.dataclass(frozen=True)
class RuleEntry:
    """One registered rule.

    Attributes:
        name: short name (``fa``), the key in ``RULES``.
        factory: ``factory(loss, **options)`` (supervised) or ``factory(**options)``.
        label: label for tables and plots (``FA``).
        family: ``"feedback"`` (and the backprop baseline), ``"perturbation"``, ...
        task: ``"supervised"``, ``"unsupervised"`` or ``"modulated"`` (``credax.tasks``).
        description: one line.
        reference: author(s) and year.
        options: options of this variant (``brsf``: ``random_magnitude``, ``redraw``).
        diagnostics: names of the records the rule's ``diagnostics`` returns.
        feedback_path: ``state.feedback`` holds one ``B_l`` per layer in ``W_l``'s shape, used in
            place of ``W_l`` on the backward path, so ``B_l = W_l`` gives backprop exactly.
        sign_concordant: the feedback used has the sign of ``W`` everywhere.
        learns_feedback: ``B`` learns to approach ``W`` during training.
        direct: direct feedback (``B_l`` of shape ``(n_out, *h_l.shape)``).
        stochastic: the rule draws fresh noise from its key at every update, so sweeps give each
            seed its own key stream (``rule_key_per_seed``) rather than shared feedback draws.
        estimator: a stochastic estimator of the gradient: one update matches backprop only on
            average over the rule's key (no layer, not even the output layer, equals it).
        chain_only: the rule moves activities layer by layer and needs a chain of ``Dense``
            layers (``credax.nets.mlp``); other models are refused with a message.
        relaxes: the rule relaxes the network's activities before learning (predictive coding,
            equilibrium propagation), so even its output layer's update is not backprop's.
        in_default_run: part of ``credax run``'s default rule list (rules that settle for tens
            of inner steps per update are left out of it, to keep the bare run short; name them
            with ``--rules``).
        exact_options: overrides under which the rule reduces to backprop once its feedback is
            made exact (e.g. no weight decay folded into the updates).
        tolerance: ``(rtol, atol)`` for two runs that differ only in how XLA compiles them (jit
            vs eager, vmap vs a loop): finite differences amplify float rounding by ``1/σ``.
        test_options: overrides the test suite uses to keep its small checks fast and stable
            (e.g. more draws for a learning test in 150 steps).
    """

    name: str
    factory: Callable[..., LearningRule]
    label: str
    family: str
    task: str
    description: str
    reference: str
    options: dict = dataclasses.field(default_factory=dict)
    diagnostics: tuple[str, ...] = ()
    feedback_path: bool = False
    sign_concordant: bool = False
    learns_feedback: bool = False
    direct: bool = False
    stochastic: bool = False
    estimator: bool = False
    chain_only: bool = False
    relaxes: bool = False
    in_default_run: bool = True
    exact_options: dict = dataclasses.field(default_factory=dict)
    tolerance: tuple[float, float] = (1e-5, 1e-6)
    test_options: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"{self.name}: unknown task {self.task!r}; expected one of {TASKS}")

    @property
    def factory_name(self) -> str:
        return self.factory.__name__

    def make(self, loss: Callable | None = None, **overrides: Any) -> LearningRule:
        """The rule, with this entry's options and ``overrides``; ``loss`` for supervised rules
        (an error names it when missing), none otherwise."""
        options = {**self.options, **overrides}
        if self.task == SUPERVISED:
            if loss is None:
                raise TypeError(f"{self.name} ({self.factory_name}) is supervised: pass a loss")
            return self.factory(loss, **options)
        if loss is not None:
            raise TypeError(f"{self.name} ({self.factory_name}) is {self.task}: it takes no loss")
        return self.factory(**options)


_FB = ("feedback_angles",)
_REC = ("reconstruction_errors",)
_BIG = (
    "excitation_ff", "excitation_fb", "inhibition", "ei_balance", "inhibition_vs_dtp",
    "target_angle_dtp",
)  # fmt: skip

# fmt: off
_ENTRIES = [
    RuleEntry(
        "bp", backprop, "BP", "feedback", SUPERVISED, "backpropagation (exact gradient)",
        "Rumelhart et al. 1986",
    ),
    RuleEntry(
        "fa", feedback.feedback_alignment, "FA", "feedback", SUPERVISED,
        "fixed random feedback B_l", "Lillicrap et al. 2016",
        diagnostics=_FB, feedback_path=True,
    ),
    RuleEntry(
        "dfa", feedback.direct_feedback_alignment, "DFA", "feedback", SUPERVISED,
        "output error sent to every hidden layer", "Nøkland 2016", direct=True,
    ),
    RuleEntry(
        "usf", feedback.sign_symmetry, "uSF", "feedback", SUPERVISED,
        "B = s·sign(W), uniform magnitude", "Liao et al. 2016",
        diagnostics=_FB, sign_concordant=True,
    ),
    RuleEntry(
        "brsf", feedback.sign_symmetry, "brSF", "feedback", SUPERVISED,
        "B = |R|∘sign(W), R redrawn each batch", "Xiao et al. 2018",
        options={"random_magnitude": True, "redraw": True},
        diagnostics=_FB, sign_concordant=True, stochastic=True,
    ),
    RuleEntry(
        "frsf", feedback.sign_symmetry, "frSF", "feedback", SUPERVISED,
        "B = |R|∘sign(W), R fixed", "Xiao et al. 2018",
        options={"random_magnitude": True}, diagnostics=_FB, sign_concordant=True,
    ),
    RuleEntry(
        "kp", feedback.kolen_pollack, "KP", "feedback", SUPERVISED,
        "B learns W's own update plus decay", "Akrout et al. 2019",
        diagnostics=_FB, feedback_path=True, learns_feedback=True,
        exact_options={"decay": 0.0}, test_options={"feedback_lr": 0.1, "decay": 0.1},
    ),
    RuleEntry(
        "wm", feedback.weight_mirror, "WM", "feedback", SUPERVISED,
        "B learns W from noise-driven mirror mode", "Akrout et al. 2019",
        diagnostics=_FB, feedback_path=True, learns_feedback=True, stochastic=True,
        test_options={"mirror_batch": 4},
    ),
    # Weight-space estimators average 8 draws in the tests so that the learning test (1,443
    # weights, 150 Adam steps) passes with a margin; one draw just passes there. Finite
    # differences at σ = 1e-3 turn float rounding of the loss (~1e-7) into ~1e-4.
    RuleEntry(
        "wp", perturbation.weight_perturbation, "WP", "perturbation", SUPERVISED,
        "loss change under Gaussian noise on every weight", "Jabri & Flower 1992; Seung 2003",
        stochastic=True, estimator=True, tolerance=(1e-3, 2e-4),
        test_options={"n_perturbations": 8},
    ),
    RuleEntry(
        "np", perturbation.node_perturbation, "NP", "perturbation", SUPERVISED,
        "loss change under noise on every unit, per example",
        "Mazzoni et al. 1991; Werfel et al. 2005",
        stochastic=True, estimator=True, tolerance=(1e-3, 2e-4),
    ),
    RuleEntry(
        "reinforce", perturbation.reinforce, "REINFORCE", "perturbation", SUPERVISED,
        "Gaussian stochastic units, reward minus running baseline", "Williams 1992",
        stochastic=True, estimator=True,
    ),
    RuleEntry(
        "agrel", perturbation.agrel, "AGREL", "perturbation", SUPERVISED,
        "sampled action, RPE, gated feedback from the chosen unit",
        "Roelfsema & van Ooyen 2005", stochastic=True, estimator=True,
    ),
    RuleEntry(
        "fg", perturbation.forward_gradient, "FG", "perturbation", SUPERVISED,
        "forward gradient, random tangent on the weights (jvp)", "Baydin et al. 2022",
        stochastic=True, estimator=True, test_options={"n_tangents": 8},
    ),
    RuleEntry(
        "fga", perturbation.forward_gradient, "FG-A", "perturbation", SUPERVISED,
        "forward gradient, random tangent on the activities", "Ren et al. 2022",
        options={"activity": True}, stochastic=True, estimator=True,
    ),
    RuleEntry(
        "tp", target.target_propagation, "TP", "target", SUPERVISED,
        "targets sent down through learned inverses", "Bengio 2014",
        diagnostics=_REC, chain_only=True, stochastic=True,
        # TP's targets are only as good as its inverses: in the 150-step learning test they
        # must learn as fast as the forward weights (loss 1.25 -> 0.90 with the default 1e-3).
        test_options={"inverse_optimizer": optax.adam(1e-2)},
    ),
    RuleEntry(
        "dtp", target.difference_target_propagation, "DTP", "target", SUPERVISED,
        "targets corrected by the inverses' reconstruction error", "Lee et al. 2015",
        diagnostics=_REC, chain_only=True, stochastic=True,
    ),
    RuleEntry(
        "big", target.balanced_inhibition_gradient, "BIG", "target", SUPERVISED,
        "targets from feedback minus local denoising inhibition",
        "Balanced excitation and inhibition could help estimate gradients (abstract)",
        diagnostics=_BIG, chain_only=True, stochastic=True,
    ),
    RuleEntry(
        "pc", energy.predictive_coding, "PC", "energy", SUPERVISED,
        "value nodes relax on prediction errors, local updates",
        "Whittington & Bogacz 2017; Song et al. 2020",
        diagnostics=("energy", "prediction_errors"), chain_only=True, relaxes=True,
        in_default_run=False,
    ),
    RuleEntry(
        "ep", energy.equilibrium_propagation, "EP", "energy", SUPERVISED,
        "free and nudged equilibria of a Hopfield energy, contrastive Hebbian update",
        "Scellier & Bengio 2017; Laborieux et al. 2021",
        diagnostics=("energy", "free_vs_feedforward"), chain_only=True, relaxes=True,
        in_default_run=False,
    ),
]
# fmt: on

RULES: dict[str, RuleEntry] = {e.name: e for e in _ENTRIES}
FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(e.family for e in _ENTRIES))


def family(name: str) -> list[str]:
    """Short names of the registered rules of one family (``"feedback"`` includes backprop)."""
    if name not in FAMILIES:
        raise ValueError(f"unknown family {name!r}; expected one of {', '.join(FAMILIES)}")
    return [n for n, e in RULES.items() if e.family == name]


def _aliases() -> dict[str, str]:
    table: dict[str, str] = {}
    for e in _ENTRIES:
        table.setdefault(e.name, e.name)
        table.setdefault(e.label.lower(), e.name)
    for e in _ENTRIES:  # a factory name means its default variant (no options)
        if not e.options:
            table.setdefault(e.factory_name, e.name)
    return table


ALIASES = _aliases()


def lookup(name: str) -> RuleEntry:
    """The entry registered under ``name``: a short name (``fa``), a label (``FA``, any case) or
    a factory name (``feedback_alignment``)."""
    if not isinstance(name, str):
        raise TypeError(f"expected a rule name, got {name!r}")
    key = ALIASES.get(name) or ALIASES.get(name.lower())
    if key is None:
        raise ValueError(
            f"unknown rule {name!r}; expected one of {', '.join(RULES)} or a factory name "
            f"({', '.join(sorted({e.factory_name for e in _ENTRIES}))})"
        )
    return RULES[key]


def make_rule(name: str, loss: Callable | None = None, **options: Any) -> LearningRule:
    """The rule registered as ``name`` (any alias), built for ``loss`` when supervised."""
    return lookup(name).make(loss, **options)
