"""Loading a spec: YAML with source marks (:mod:`.source`, into a :mod:`.document`), a Python mapping checked as
text is (:mod:`.mapping`), the bundled presets (:mod:`.presets`), ``extends`` and overrides (:mod:`.compose`),
pydantic's errors and YAML's syntax errors in our words (:mod:`.messages`, :mod:`.syntax`, with the line table of
:mod:`.lines`).

The modules import one another in one direction only: document, lines → messages, syntax → presets → source →
mapping → compose (a test checks that no import goes back). Each name here loads its module on first use, so
that the bundled presets' names and files (:mod:`.presets`) come without YAML or the checking path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from resnetdsl.lazy import lazy_names

if TYPE_CHECKING:
    from resnetdsl.load.compose import (
        MAX_EXTENDS,
        Overridden,
        Override,
        apply_overrides,
        checked_spec,
        is_override_mark,
        load_document,
        load_spec,
        overrides_arg,
        parse_set,
        read_source,
        resolve_extends,
        spec_data,
        spec_from_document,
    )
    from resnetdsl.load.document import Document, SourceMap
    from resnetdsl.load.mapping import plain_data
    from resnetdsl.load.messages import did_you_mean, issues_from_pydantic
    from resnetdsl.load.presets import preset_dir, preset_display, preset_names, preset_of_display, preset_path
    from resnetdsl.load.source import MAX_BYTES, MAX_DEPTH, MAX_NODES, parse_yaml, read_file

_LAZY = {
    "Document": "resnetdsl.load.document",
    "MAX_BYTES": "resnetdsl.load.source",
    "MAX_DEPTH": "resnetdsl.load.source",
    "MAX_EXTENDS": "resnetdsl.load.compose",
    "MAX_NODES": "resnetdsl.load.source",
    "Overridden": "resnetdsl.load.compose",
    "Override": "resnetdsl.load.compose",
    "SourceMap": "resnetdsl.load.document",
    "apply_overrides": "resnetdsl.load.compose",
    "checked_spec": "resnetdsl.load.compose",
    "did_you_mean": "resnetdsl.load.messages",
    "is_override_mark": "resnetdsl.load.compose",
    "issues_from_pydantic": "resnetdsl.load.messages",
    "load_document": "resnetdsl.load.compose",
    "load_spec": "resnetdsl.load.compose",
    "overrides_arg": "resnetdsl.load.compose",
    "parse_set": "resnetdsl.load.compose",
    "parse_yaml": "resnetdsl.load.source",
    "plain_data": "resnetdsl.load.mapping",
    "preset_dir": "resnetdsl.load.presets",
    "preset_display": "resnetdsl.load.presets",
    "preset_names": "resnetdsl.load.presets",
    "preset_of_display": "resnetdsl.load.presets",
    "preset_path": "resnetdsl.load.presets",
    "read_file": "resnetdsl.load.source",
    "read_source": "resnetdsl.load.compose",
    "resolve_extends": "resnetdsl.load.compose",
    "spec_data": "resnetdsl.load.compose",
    "spec_from_document": "resnetdsl.load.compose",
}


__getattr__, __dir__ = lazy_names(globals(), _LAZY)


__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_EXTENDS",
    "MAX_NODES",
    "Document",
    "Overridden",
    "Override",
    "SourceMap",
    "apply_overrides",
    "checked_spec",
    "did_you_mean",
    "is_override_mark",
    "issues_from_pydantic",
    "load_document",
    "load_spec",
    "overrides_arg",
    "parse_set",
    "parse_yaml",
    "plain_data",
    "preset_dir",
    "preset_display",
    "preset_names",
    "preset_of_display",
    "preset_path",
    "read_file",
    "read_source",
    "resolve_extends",
    "spec_data",
    "spec_from_document",
]
