"""The one table of rules, read by the library, the command and the tests alike.

Each ``RuleEntry`` says how to build a rule (its factory and options), what it is (label, family,
task, description, reference), what it records (diagnostics) and what it promises (traits, from
``TRAITS``: the test suite checks each promise). Each ``Family`` says how the command draws its
rules. A new rule is one factory plus one line here: the contract, reduction, learning and error
tests are parametrised over this table. ``register`` adds an entry (the test suite registers a
rule of its own this way).

Names: every entry has a short name (``fa``), a label (``FA``) and a factory name
(``feedback_alignment``); ``lookup`` accepts any of them (labels case-insensitively). A factory
name shared by several entries (``sign_symmetry``: uSF, frSF, brSF) means the entry with the
factory's default options.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from credax._src import dendrites, energy, local, perturbation, target
from credax._src.batches import MODULATED, SUPERVISED, TASK_NAMES, UNSUPERVISED
from credax._src.feedback import _rules as feedback
from credax._src.rule import LearningRule, backprop
from credax._src.spiking import _latency, _stdp, _superspike

TRAITS: dict[str, str] = {
    "feedback_path": "state.feedback holds one B_l per layer in W_l's shape, used in place of "
    "W_l on the backward path (B_l = W_l gives backprop exactly)",
    "sign_concordant": "the feedback used has the sign of W everywhere",
    "learns_feedback": "B learns to approach W during training",
    "direct": "direct feedback: B_l of shape (n_out, *h_l.shape) from the output error",
    "stochastic": "draws fresh noise from its key at every update (sweeps give each seed its "
    "own key stream)",
    "estimator": "a stochastic estimator of the gradient: matches backprop only on average over "
    "its key",
    "chain_only": "moves activities layer by layer: needs a chain of Dense layers "
    "(credax.nets.mlp); other models are refused",
    "relaxes": "relaxes the network's activities before learning, so even its output layer's "
    "update is not backprop's",
    "spiking_only": "acts on spiking layers (credax.spiking): needs a spiking network "
    "(credax.spiking.network, --model snn:...); other models are refused",
    "latency_only": "trains time-to-first-spike layers (credax.spiking.LatencyDense): needs a "
    "latency network (credax.spiking.latency_network, --model latency:...); other models are "
    "refused",
    "output_only": "only the output layer learns (hidden somata receive no teacher), so hidden "
    "layers' updates are zero",
    "nudged": "learns from a finite nudge of the output somata, so even its output layer's "
    "update is backprop's only in the limit of weak nudging",
    "nonnegative_rates": "its units are firing rates: needs nonnegative activations "
    "(jax.nn.sigmoid); other activations are refused",
    "bounded_activation": "acts on layers with bounded, increasing activations (tanh, sigmoid); "
    "a model without one is refused",
}


@dataclasses.dataclass(frozen=True)
class Family:
    """A family of rules, as the command shows it.

    Attributes:
        name: the key in ``FAMILIES`` (``"feedback"``).
        description: one line.
        linestyle: the matplotlib line style of its rules in plots (distinct per family).
    """

    name: str
    description: str
    linestyle: Any


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("feedback", "a change of the backward path: random, sign or learned feedback", "-"),
        Family("perturbation", "estimates from the effect of noise on weights or units", "--"),
        Family("target", "feedback carries targets for each layer's activity", "-."),
        Family("energy", "the network settles; weights learn from local quantities", ":"),
        Family(
            "local",
            "synapses that learn from what they see: Hebbian, BCM, three-factor, homeostatic",
            (0, (5, 1, 1, 1, 1, 1)),
        ),
        Family(
            "spiking",
            "rules for spiking networks: surrogate gradients, spike timing, STDP",
            (0, (8, 2, 1, 2)),
        ),
        Family(
            "dendrites",
            "compartmental neurons: apical feedback, interneurons, plateaus and bursts gate "
            "plasticity",
            (0, (3, 1, 3, 1, 1, 1)),
        ),
    )
}


@dataclasses.dataclass(frozen=True)
class RuleEntry:
    """One registered rule.

    Attributes:
        name: short name (``fa``), the key in ``RULES``.
        factory: ``factory(loss, **options)`` (tasks with a loss) or ``factory(**options)``.
        label: label for tables and plots (``FA``).
        family: a key of ``FAMILIES``.
        task: ``"supervised"``, ``"unsupervised"`` or ``"modulated"`` (``credax.tasks``).
        description: one line.
        reference: author(s) and year.
        options: options of this variant (``brsf``: ``random_magnitude``, ``redraw``).
        diagnostics: names of the records the rule's ``diagnostics`` returns.
        traits: what the rule promises, names from ``TRAITS``.
        baseline: a reference every other rule is measured against (backprop): drawn in black,
            and its own angle to backprop is not plotted.
        aliases: further names ``lookup`` accepts (``bptt`` for backprop on a spiking network).
        in_default_run: part of ``credax run``'s default rule list (rules that settle for tens
            of inner steps per update are left out of it, to keep the bare run short, and so are
            the unsupervised and modulated rules, whose accuracy is a readout's or a bandit's;
            name them with ``--rules``).
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
    traits: frozenset[str] = frozenset()
    baseline: bool = False
    in_default_run: bool = True
    aliases: tuple[str, ...] = ()

    def __post_init__(self):
        if self.task not in TASK_NAMES:
            raise ValueError(
                f"{self.name}: unknown task {self.task!r}; expected one of {TASK_NAMES}"
            )
        if self.family not in FAMILIES:
            raise ValueError(
                f"{self.name}: unknown family {self.family!r}; expected one of "
                f"{', '.join(FAMILIES)} (add a Family to credax.registry.FAMILIES)"
            )
        object.__setattr__(self, "traits", frozenset(self.traits))
        unknown = sorted(self.traits - set(TRAITS))
        if unknown:
            raise ValueError(f"{self.name}: unknown traits {unknown}; expected names from TRAITS")

    @property
    def factory_name(self) -> str:
        return self.factory.__name__

    def has(self, trait: str) -> bool:
        """Whether the rule has ``trait`` (a name from ``TRAITS``)."""
        if trait not in TRAITS:
            raise ValueError(f"unknown trait {trait!r}; expected one of {', '.join(TRAITS)}")
        return trait in self.traits

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
_EST = frozenset({"stochastic", "estimator"})
_MC = dendrites.RECORDS

# fmt: off
_ENTRIES = [
    RuleEntry(
        "bp", backprop, "BP", "feedback", SUPERVISED,
        "backpropagation (exact gradient; through time on a spiking network, with the "
        "surrogate: surrogate-gradient BPTT)", "Rumelhart et al. 1986", baseline=True,
        aliases=("bptt",),
    ),
    RuleEntry(
        "fa", feedback.feedback_alignment, "FA", "feedback", SUPERVISED,
        "fixed random feedback B_l", "Lillicrap et al. 2016",
        diagnostics=_FB, traits={"feedback_path"},
    ),
    RuleEntry(
        "dfa", feedback.direct_feedback_alignment, "DFA", "feedback", SUPERVISED,
        "output error sent to every hidden layer", "Nøkland 2016", traits={"direct"},
    ),
    RuleEntry(
        "usf", feedback.sign_symmetry, "uSF", "feedback", SUPERVISED,
        "B = s·sign(W), uniform magnitude", "Liao et al. 2016",
        diagnostics=_FB, traits={"sign_concordant"},
    ),
    RuleEntry(
        "brsf", feedback.sign_symmetry, "brSF", "feedback", SUPERVISED,
        "B = |R|∘sign(W), R redrawn each batch", "Xiao et al. 2018",
        options={"random_magnitude": True, "redraw": True},
        diagnostics=_FB, traits={"sign_concordant", "stochastic"},
    ),
    RuleEntry(
        "frsf", feedback.sign_symmetry, "frSF", "feedback", SUPERVISED,
        "B = |R|∘sign(W), R fixed", "Xiao et al. 2018",
        options={"random_magnitude": True}, diagnostics=_FB, traits={"sign_concordant"},
    ),
    RuleEntry(
        "kp", feedback.kolen_pollack, "KP", "feedback", SUPERVISED,
        "B learns W's own update plus decay", "Akrout et al. 2019",
        diagnostics=_FB, traits={"feedback_path", "learns_feedback"},
    ),
    RuleEntry(
        "wm", feedback.weight_mirror, "WM", "feedback", SUPERVISED,
        "B learns W from noise-driven mirror mode", "Akrout et al. 2019",
        diagnostics=_FB, traits={"feedback_path", "learns_feedback", "stochastic"},
    ),
    RuleEntry(
        "wp", perturbation.weight_perturbation, "WP", "perturbation", SUPERVISED,
        "loss change under Gaussian noise on every weight", "Jabri & Flower 1992; Seung 2003",
        traits=_EST,
    ),
    RuleEntry(
        "np", perturbation.node_perturbation, "NP", "perturbation", SUPERVISED,
        "loss change under noise on every unit, per example",
        "Mazzoni et al. 1991; Werfel et al. 2005", traits=_EST,
    ),
    RuleEntry(
        "reinforce", perturbation.reinforce, "REINFORCE", "perturbation", SUPERVISED,
        "Gaussian stochastic units, reward minus running baseline", "Williams 1992",
        traits=_EST,
    ),
    RuleEntry(
        "agrel", perturbation.agrel, "AGREL", "perturbation", SUPERVISED,
        "sampled action, RPE, gated feedback from the chosen unit",
        "Roelfsema & van Ooyen 2005", traits=_EST,
    ),
    RuleEntry(
        "fg", perturbation.forward_gradient, "FG", "perturbation", SUPERVISED,
        "forward gradient, random tangent on the weights (jvp)", "Baydin et al. 2022",
        traits=_EST,
    ),
    RuleEntry(
        "fga", perturbation.forward_gradient, "FG-A", "perturbation", SUPERVISED,
        "forward gradient, random tangent on the activities", "Ren et al. 2022",
        options={"activity": True}, traits=_EST,
    ),
    RuleEntry(
        "tp", target.target_propagation, "TP", "target", SUPERVISED,
        "targets sent down through learned inverses", "Bengio 2014; Lee et al. 2015",
        diagnostics=_REC, traits={"chain_only", "stochastic"},
    ),
    RuleEntry(
        "dtp", target.difference_target_propagation, "DTP", "target", SUPERVISED,
        "targets corrected by the inverses' reconstruction error", "Lee et al. 2015",
        diagnostics=_REC, traits={"chain_only", "stochastic"},
    ),
    RuleEntry(
        "tpo", target.target_propagation, "TP-out", "target", SUPERVISED,
        "TP with the first target on the output, through its inverse", "BIG abstract, eq. 2",
        options={"output_target": True},
        diagnostics=_REC, traits={"chain_only", "stochastic"}, in_default_run=False,
    ),
    RuleEntry(
        "dtpo", target.difference_target_propagation, "DTP-out", "target", SUPERVISED,
        "DTP with the first target on the output, through its inverse", "BIG abstract, eq. 3",
        options={"output_target": True},
        diagnostics=_REC, traits={"chain_only", "stochastic"}, in_default_run=False,
    ),
    RuleEntry(
        "big", target.balanced_inhibition_gradient, "BIG", "target", SUPERVISED,
        "targets from feedback minus local denoising inhibition",
        "Balanced excitation and inhibition could help estimate gradients (abstract)",
        diagnostics=_BIG, traits={"chain_only", "stochastic"},
    ),
    RuleEntry(
        "pc", energy.predictive_coding, "PC", "energy", SUPERVISED,
        "value nodes relax on prediction errors, local updates",
        "Whittington & Bogacz 2017; Song et al. 2020",
        diagnostics=("energy", "prediction_errors", "settle_ratio"),
        traits={"chain_only", "relaxes"},
        in_default_run=False,
    ),
    RuleEntry(
        "ep", energy.equilibrium_propagation, "EP", "energy", SUPERVISED,
        "free and nudged equilibria of a Hopfield energy, contrastive Hebbian update",
        "Scellier & Bengio 2017; Laborieux et al. 2021",
        diagnostics=("energy", "free_vs_feedforward", "settle_ratio"),
        traits={"chain_only", "relaxes"},
        in_default_run=False,
    ),
    RuleEntry(
        "hebb", local.hebb, "Hebb", "local", UNSUPERVISED,
        "Δw = ⟨y xᵀ⟩, unstable without bounds", "Hebb 1949",
        in_default_run=False,
    ),
    RuleEntry(
        "oja", local.oja, "Oja", "local", UNSUPERVISED,
        "Hebb with Oja's normalising decay: the first principal component", "Oja 1982",
        diagnostics=("subspace_angle",), in_default_run=False,
    ),
    RuleEntry(
        "sanger", local.oja, "Sanger", "local", UNSUPERVISED,
        "generalised Hebbian algorithm: the leading principal components", "Sanger 1989",
        options={"components": 4}, diagnostics=("subspace_angle",), in_default_run=False,
    ),
    RuleEntry(
        "bcm", local.bcm, "BCM", "local", UNSUPERVISED,
        "Δw = ⟨x y (y - θ)⟩, sliding threshold θ ← ⟨y²⟩", "Bienenstock, Cooper & Munro 1982",
        diagnostics=("threshold", "rate_squared", "selectivity"), in_default_run=False,
    ),
    RuleEntry(
        "three_factor", local.three_factor, "3-factor", "local", MODULATED,
        "modulator times an eligibility trace of y xᵀ", "Frémaux & Gerstner 2016",
        diagnostics=("eligibility_norms",), in_default_run=False,
    ),
    RuleEntry(
        "homeostasis", local.homeostasis, "Homeo", "local", UNSUPERVISED,
        "synaptic scaling to a firing-rate set point", "Turrigiano et al. 1998",
        options={"target_rate": 0.1}, diagnostics=("mean_rate", "rate_error"),
        in_default_run=False,
    ),
    RuleEntry(
        "ip", local.intrinsic_plasticity, "IP", "local", UNSUPERVISED,
        "gain and bias towards an exponential output distribution", "Triesch 2005",
        diagnostics=("output_mean", "output_sd"), traits={"bounded_activation"},
        in_default_run=False,
    ),
    RuleEntry(
        "stdp", _stdp.stdp, "STDP", "spiking", UNSUPERVISED,
        "pair-based spike-timing-dependent plasticity with traces, hard bounds",
        "Song, Miller & Abbott 2000", diagnostics=("pre_rate", "post_rate", "mean_weight"),
        traits={"spiking_only"}, in_default_run=False,
    ),
    RuleEntry(
        "graupner_brunel", _stdp.graupner_brunel, "GB", "spiking", UNSUPERVISED,
        "calcium-based synapse: thresholds for depression and potentiation, bistable efficacy",
        "Graupner & Brunel 2012", diagnostics=("pre_rate", "post_rate", "mean_rho", "fraction_up"),
        traits={"spiking_only", "stochastic"}, in_default_run=False,
    ),
    RuleEntry(
        "spike_latency", _latency.spike_latency, "Latency", "spiking", SUPERVISED,
        "exact gradients of first-spike times (z-domain) plus a weight-sum cost",
        "Mostafa 2017",
        diagnostics=("silent_fraction", "causal_fraction", "below_threshold_fraction",
                     "decision_time"),
        traits={"latency_only"}, in_default_run=False,
    ),
    RuleEntry(
        "superspike", _superspike.superspike, "SuperSpike", "spiking", SUPERVISED,
        "voltage-based three-factor rule: error x surrogate x PSP, symmetric feedback",
        "Zenke & Ganguli 2018", traits={"spiking_only"}, in_default_run=False,
    ),
    RuleEntry(
        "superspike_fa", _superspike.superspike, "SuperSpike-rFB", "spiking", SUPERVISED,
        "SuperSpike with fixed random feedback (spiking feedback alignment)",
        "Zenke & Ganguli 2018", options={"feedback": "random"}, traits={"spiking_only"},
        in_default_run=False,
    ),
    RuleEntry(
        "us", dendrites.dendritic_prediction, "U&S", "dendrites", SUPERVISED,
        "basal synapses learn to predict the nudged somatic rate (output layer only)",
        "Urbanczik & Senn 2014", diagnostics=("dendritic_error",),
        traits={"chain_only", "output_only", "nudged"}, in_default_run=False,
    ),
    RuleEntry(
        "microcircuit", dendrites.dendritic_microcircuit, "Microcircuit", "dendrites",
        SUPERVISED,
        "pyramidal and interneuron compartments; apical error after self-prediction",
        "Sacramento et al. 2018", diagnostics=_MC, traits={"chain_only", "nudged"},
        in_default_run=False,
    ),
    RuleEntry(
        "segregated", dendrites.segregated_dendrites, "SegDend", "dendrites", SUPERVISED,
        "forward and target phases, apical plateau differences, random feedback",
        "Guerguiev et al. 2017", diagnostics=("plateau_forward", "plateau_difference"),
        traits={"chain_only"}, in_default_run=False,
    ),
    RuleEntry(
        "burstprop", dendrites.burstprop, "Burstprop", "dendrites", SUPERVISED,
        "burst probability multiplexed with event rate carries the error",
        "Payeur et al. 2021",
        diagnostics=("burst_probability", "burst_average", "event_rate", "burst_error"),
        traits={"chain_only", "nonnegative_rates"}, in_default_run=False,
    ),
]
# fmt: on

RULES: dict[str, RuleEntry] = {}
ALIASES: dict[str, str] = {}


def _rebuild_aliases() -> None:
    ALIASES.clear()
    for e in RULES.values():
        ALIASES.setdefault(e.name, e.name)
        ALIASES.setdefault(e.label.lower(), e.name)
        for a in e.aliases:
            ALIASES.setdefault(a, e.name)
    for e in RULES.values():  # a factory name means its default variant (no options)
        if not e.options:
            ALIASES.setdefault(e.factory_name, e.name)


def register(entry: RuleEntry | Family) -> RuleEntry | Family:
    """Adds a rule to ``RULES`` (its name, label and factory name become aliases), so that the
    command and every registry-parametrised test know it; or a family to ``FAMILIES`` (with its
    own line style), before the rules that belong to it.

    Raises:
        ValueError: the name or label is taken by another entry, or the line style by another
            family.
    """
    if isinstance(entry, Family):
        if entry.name in FAMILIES:
            raise ValueError(f"register: the family {entry.name!r} exists")
        if any(f.linestyle == entry.linestyle for f in FAMILIES.values()):
            raise ValueError(
                f"register: family {entry.name!r} needs a line style of its own; "
                f"{entry.linestyle!r} is taken"
            )
        FAMILIES[entry.name] = entry
        return entry
    if not isinstance(entry, RuleEntry):
        raise TypeError(
            f"register: expected a credax.registry.RuleEntry or Family, got {entry!r}"[:300]
        )
    taken = {e.label.lower(): n for n, e in RULES.items()}
    if entry.name in RULES or taken.get(entry.label.lower(), entry.name) != entry.name:
        raise ValueError(f"register: the name {entry.name!r} or label {entry.label!r} is taken")
    RULES[entry.name] = entry
    _rebuild_aliases()
    return entry


def unregister(name: str) -> None:
    """Removes the entry registered as ``name``."""
    if name not in RULES:
        raise ValueError(f"unregister: no rule {name!r}")
    del RULES[name]
    _rebuild_aliases()


for _entry in _ENTRIES:
    register(_entry)


def family(name: str) -> list[str]:
    """Short names of the registered rules of one family (``"feedback"`` includes backprop)."""
    if name not in FAMILIES:
        raise ValueError(f"unknown family {name!r}; expected one of {', '.join(FAMILIES)}")
    return [n for n, e in RULES.items() if e.family == name]


def lookup(name: str) -> RuleEntry:
    """The entry registered under ``name``: a short name (``fa``), a label (``FA``, any case) or
    a factory name (``feedback_alignment``)."""
    if not isinstance(name, str):
        raise TypeError(f"expected a rule name, got {name!r}")
    key = ALIASES.get(name) or ALIASES.get(name.lower())
    if key is None:
        raise ValueError(
            f"unknown rule {name!r}; expected one of {', '.join(RULES)} or a factory name "
            f"({', '.join(sorted({e.factory_name for e in RULES.values()}))})"
        )
    return RULES[key]
