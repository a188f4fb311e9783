"""Loading a spec: YAML with source marks (:mod:`.source`, into a :mod:`.document`), a Python mapping checked as
text is (:mod:`.mapping`), the bundled presets (:mod:`.presets`), ``extends`` and overrides (:mod:`.compose`),
pydantic's errors and YAML's syntax errors in our words (:mod:`.messages`, :mod:`.syntax`, with the line table of
:mod:`.lines`).

The modules import one another in one direction only: document, lines → messages, syntax → presets → source →
mapping → compose (a test checks that no import goes back).
"""

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
