"""Segment-level AVE heads: 10 one-second segments in, one of 28 classes or background out.

Importing this package registers the built-in segment heads (``vscg``, ``vscg-weakly``, ``avsgn``, ``avsgn-weakly``).
Shared layers (audio-guided attention, PSP, ESCM) live in their own modules for reuse.
"""
from __future__ import annotations

from .avsgn import AVSGN, AVSGNConfig, AVSGNWeakly, AVSGNWeaklyConfig
from .vscg import VSCG, VSCGConfig, VSCGOutput
from .vscg_weakly import VSCGWeakly, VSCGWeaklyConfig, VSCGWeaklyOutput

__all__ = ["AVSGN", "AVSGNConfig", "AVSGNWeakly", "AVSGNWeaklyConfig", "VSCG", "VSCGConfig", "VSCGOutput", "VSCGWeakly", "VSCGWeaklyConfig", "VSCGWeaklyOutput"]
