"""The ``credax`` command: compare rules on a dataset over seeds, in one compiled program each.

    credax run [--rules bp,fa,...] [--dataset mnist1d] [--model mlp:40-256-256-10]
               [--seeds N] [--draws K] [--epochs E] [--optimizer adam:1e-3] [--out DIR]
    credax list [NAME ...]

Modules: ``_config`` (arguments to a typed ``RunConfig``), ``_files`` (atomic writes, verified
blocks), ``_report`` (progress, table), ``_plots`` (styles from the registry), ``_run``
(the commands).
"""

from credax._src.cli._config import RunConfig, build_config, make_parser
from credax._src.cli._plots import rule_styles
from credax._src.cli._run import cmd_list, cmd_run, main

__all__ = ["RunConfig", "build_config", "cmd_list", "cmd_run", "main", "make_parser", "rule_styles"]
