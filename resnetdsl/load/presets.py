"""The bundled presets: their names, their files, how messages name them, and the near misses of a name.

Both the reader (:mod:`.source`, a missing file's did-you-mean) and composing (:mod:`.compose`, ``extends``) use
this module; it imports neither.
"""

from __future__ import annotations

import difflib
import os
import re
from functools import cache
from pathlib import Path as FsPath

from resnetdsl.errors import SpecError
from resnetdsl.load.messages import did_you_mean

PRESET_RE = re.compile(r"^[A-Za-z0-9_]+$")
"""What a preset's name looks like (a word: no dot, no slash)."""
_PRESET_DISPLAY = re.compile(r"^preset '([A-Za-z0-9_]+)'$")


def preset_dir() -> FsPath:
    """Folder of bundled presets: inside the installed package, or ``specs/`` of a source checkout."""
    here = FsPath(__file__).resolve().parent.parent
    bundled = here / "specs"
    return bundled if bundled.is_dir() else here.parent / "specs"


@cache
def preset_names() -> tuple[str, ...]:
    """Names of the bundled presets, sorted."""
    return tuple(sorted(p.stem for p in preset_dir().glob("*.yaml")))


def is_preset(name: str) -> bool:
    """``name`` is a bundled preset's name."""
    return bool(PRESET_RE.match(name)) and name in preset_names()


def preset_display(name: str) -> str:
    """How marks name a bundled preset's file: ``preset 'resnet50'``, never a path (an installed package's
    folder is nobody's business, and ``specs/`` exists only in a source checkout)."""
    return f"preset '{name}'"


def preset_of_display(file: str | None) -> str | None:
    """The preset a mark's file names (see :func:`preset_display`), else ``None``."""
    m = _PRESET_DISPLAY.match(file or "")
    return m[1] if m else None


def preset_path(name: str) -> FsPath:
    """The file of the bundled preset ``name``.

    Raises:
        SpecError: no preset has that name (with a did-you-mean).
    """
    if name not in preset_names():
        raise SpecError.single(f"unknown preset '{name}'{did_you_mean(name, preset_names())}")
    return preset_dir() / f"{name}.yaml"


def nearby_hint(path: str, *, shown_dir: str | None = None, exclude: str | None = None) -> str:
    """`` (did you mean 'dir/hetero.yaml'?)`` for a missing file: the preset of that name, a spec file of a
    similar name in the same folder (named under ``shown_dir``, default: that folder), or a preset of a similar
    name; ``""`` if none is close."""
    folder, name = os.path.split(path)
    stem = name.rsplit(".", 1)[0] if name.endswith((".yaml", ".yml")) else name
    if stem in preset_names():
        return f" (did you mean the preset '{stem}'?)"
    skip = os.path.basename(exclude) if exclude else None
    try:
        with os.scandir(folder or ".") as it:
            near = {
                e.name.rsplit(".", 1)[0]: e.name
                for e in it
                if e.name.endswith((".yaml", ".yml")) and e.name != skip and e.is_file()
            }
    except OSError:
        near = {}
    close = difflib.get_close_matches(stem, sorted(near), n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{os.path.join(folder if shown_dir is None else shown_dir, near[close[0]])}'?)"
    close = difflib.get_close_matches(stem, preset_names(), n=1, cutoff=0.6)
    return f" (did you mean the preset '{close[0]}'?)" if close else ""
