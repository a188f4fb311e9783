"""Exporters: standalone PyTorch source (:mod:`.python`, no torch needed to write it) and ONNX (:mod:`.onnx`);
the model they write, with ``--weights`` (:mod:`.checkpoint`)."""

from __future__ import annotations

FORMATS = ("python", "onnx")
