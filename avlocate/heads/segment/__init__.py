"""Segment-level AVE heads: 10 one-second segments in, one of 28 classes or background out.

Importing this package registers the built-in segment heads (``vscg``, ``vscg-weakly``).
Shared layers (audio-guided attention, PSP, ESCM) live in their own modules for reuse.
"""
from __future__ import annotations

from .vscg import VSCG, VSCGConfig, VSCGOutput
from .vscg_weakly import VSCGWeakly, VSCGWeaklyConfig, VSCGWeaklyOutput

__all__ = ["VSCG", "VSCGConfig", "VSCGOutput", "VSCGWeakly", "VSCGWeaklyConfig", "VSCGWeaklyOutput"]
