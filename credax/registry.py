"""The one table of rules (factory, label, family, task, reference, diagnostics, traits), read
by the library, the ``credax`` command and the tests; and the families, as the command shows
them."""

from credax._src.registry import ALIASES as ALIASES
from credax._src.registry import FAMILIES as FAMILIES
from credax._src.registry import RULES as RULES
from credax._src.registry import TRAITS as TRAITS
from credax._src.registry import Family as Family
from credax._src.registry import RuleEntry as RuleEntry
from credax._src.registry import family as family
from credax._src.registry import lookup as lookup
from credax._src.registry import register as register
from credax._src.registry import unregister as unregister

__all__ = [
    "ALIASES",
    "FAMILIES",
    "RULES",
    "TRAITS",
    "Family",
    "RuleEntry",
    "family",
    "lookup",
    "register",
    "unregister",
]
