"""avlocate plugin: the ONE-PEACE feature protocol of UnAV-100 (registered as extractor ``one-peace``)."""
from __future__ import annotations

__version__ = "0.1.0"
