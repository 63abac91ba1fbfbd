"""The one table of rules (factory, label, family, task, reference, diagnostics, capability
flags), read by the library, the ``credax`` command and the tests."""

from credax._src.registry import ALIASES as ALIASES
from credax._src.registry import FAMILIES as FAMILIES
from credax._src.registry import RULES as RULES
from credax._src.registry import RuleEntry as RuleEntry
from credax._src.registry import family as family
from credax._src.registry import lookup as lookup
from credax._src.registry import make_rule as make_rule

__all__ = ["ALIASES", "FAMILIES", "RULES", "RuleEntry", "family", "lookup", "make_rule"]
