"""Exporters: standalone PyTorch source (:mod:`.python`, no torch needed to write it) and ONNX (:mod:`.onnx`)."""

from __future__ import annotations

FORMATS = ("python", "onnx")
