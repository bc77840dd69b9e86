"""An import-linter contract type for "this package may import only these": ``allowlist``.

import-linter's own types say what is forbidden; a layer such as ``strategy_client.model``
("msgspec and the standard library, nothing else") is a list of what is allowed, and a
forbidden list would have to name every other package, including ones not yet written.

Options (in ``[[tool.importlinter.contracts]]`` with ``type = "allowlist"``):

* ``source_modules`` — the packages checked (each with everything under it).
* ``allowed_modules`` — modules of the root packages they may import, each with everything
  under it. A source package may always import itself; the standard library is always allowed.
* ``allowed_external`` — third-party top-level packages allowed (e.g. ``msgspec``), or ``*``
  for any third-party package (the rule is then only about our own packages).
* ``ignore_imports`` — ``importer -> imported`` pairs to leave out, as in the built-in types.

Only direct imports are checked: an allowed module's own imports are its contract's business.
Needs ``include_external_packages = true`` at the top of the config, else third-party imports
are not in the graph at all.
"""

from __future__ import annotations

import sys
from typing import Any

import grimp
from importlinter import Contract, ContractCheck, fields, output
from importlinter.application import contract_utils
from importlinter.domain.helpers import module_expressions_to_modules

__all__ = ["AllowlistContract"]


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


class AllowlistContract(Contract):
    type_name = "allowlist"

    source_modules = fields.SetField(subfield=fields.ModuleExpressionField())
    allowed_modules = fields.SetField(subfield=fields.ModuleExpressionField(), required=False)
    allowed_external = fields.SetField(subfield=fields.StringField(), required=False)
    ignore_imports = fields.SetField(subfield=fields.ImportExpressionField(), required=False)

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        # import-linter's fields are descriptors that hold the parsed values on the instance
        options: dict[str, Any] = {name: getattr(self, name) for name in self._get_field_names()}
        removal = contract_utils.remove_ignored_imports_and_report(
            graph=graph,
            ignore_imports=options["ignore_imports"],
            unmatched_alerting=contract_utils.AlertLevel.ERROR,
        )
        sources = sorted(m.name for m in module_expressions_to_modules(graph, options["source_modules"]))
        allowed = sorted(m.name for m in module_expressions_to_modules(graph, options["allowed_modules"] or set()))
        external: set[str] = set(options["allowed_external"] or ())
        roots = {name.split(".")[0] for name in self.session_options["root_packages"]}
        bad: list[dict[str, object]] = []
        for source in sources:
            for importer in sorted({source} | graph.find_descendants(source)):
                for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                    top = imported.split(".")[0]
                    if _within(imported, source) or top in sys.stdlib_module_names:
                        continue
                    if top in roots:
                        if any(_within(imported, a) for a in allowed):
                            continue
                    elif "*" in external or top in external:
                        continue
                    details = graph.get_import_details(importer=importer, imported=imported)
                    lines = sorted(d["line_number"] for d in details)
                    bad.append({"importer": importer, "imported": imported, "lines": lines})
        output.verbose_print(verbose, f"{len(bad)} imports outside the allowlist")
        return ContractCheck(
            kept=not bad,
            warnings=list(removal.warnings),
            ignored_import_count=removal.ignored_import_count,
            metadata={"bad": bad},
        )

    def render_broken_contract(self, check: ContractCheck) -> None:
        for item in check.metadata["bad"]:
            lines = ", ".join(f"l.{n}" for n in item["lines"])
            output.print_error(f"{item['importer']} -> {item['imported']} ({lines})", bold=False)
        output.new_line()
