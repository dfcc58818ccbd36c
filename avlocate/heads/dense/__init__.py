"""Dense audio-visual event localization heads (UnAV-100 protocol): UnAV, CCNet, ESG-Net.

Importing this package registers the heads "unav", "ccnet" and "esgnet" in ``avlocate.registry.HEADS``.
Shared layers live in layers.py / attention.py / backbone.py / fusion.py / heads.py; decoding of
their outputs to seconds is ``avlocate.decode.dense``.
"""
from __future__ import annotations

from .ccnet import CcnetHead
from .config import CcnetConfig, DenseConfig, EsgnetConfig, UnavConfig
from .esgnet import EsgnetHead
from .heads import DenseOutput
from .unav import UnavHead
from .windows import locate_dense

__all__ = ["CcnetConfig", "CcnetHead", "DenseConfig", "DenseOutput", "EsgnetConfig", "EsgnetHead", "UnavConfig",
           "UnavHead", "locate_dense"]
