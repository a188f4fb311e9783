"""Loading a spec: YAML with source marks (:mod:`.source`), presets and ``extends`` (:mod:`.compose`),
pydantic's errors in our words (:mod:`.messages`)."""

from resnetdsl.load.compose import (
    MAX_EXTENDS,
    load_document,
    load_spec,
    preset_dir,
    preset_display,
    preset_names,
    preset_of_display,
    preset_path,
    read_source,
    resolve_extends,
    spec_from_document,
)
from resnetdsl.load.messages import did_you_mean, issues_from_pydantic
from resnetdsl.load.source import MAX_BYTES, MAX_DEPTH, MAX_NODES, Document, SourceMap, parse_yaml, read_file

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_EXTENDS",
    "MAX_NODES",
    "Document",
    "SourceMap",
    "did_you_mean",
    "issues_from_pydantic",
    "load_document",
    "load_spec",
    "parse_yaml",
    "preset_dir",
    "preset_display",
    "preset_names",
    "preset_of_display",
    "preset_path",
    "read_file",
    "read_source",
    "resolve_extends",
    "spec_from_document",
]
