"""Passes over a built model or a plan (each one file, like torch.fx's ``passes/``): :mod:`.fuse` (inference
folding)."""
