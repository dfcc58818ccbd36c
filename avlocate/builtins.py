"""Imports every built-in extractor and head module so that their registrations run.

Kept separate so that importing ``avlocate`` stays cheap: heavy modules load only when a
registry is first asked. Add one import line per new built-in module.
"""
from __future__ import annotations

from .features import i3d_vggish as _i3d_vggish  # noqa: F401
from .features import lite as _lite_features  # noqa: F401
from .features import vgg19_vggish as _vgg19_vggish  # noqa: F401
from .heads import lite as _lite_head  # noqa: F401
from .heads import segment as _segment_heads  # noqa: F401
from .heads import dense as _dense_heads  # noqa: F401
# `weights import --from NAME` converters, registered beside the modules whose layout they know
from .features import importers as _extractor_importers  # noqa: F401
from .heads.dense import official as _dense_importers  # noqa: F401
from .heads.segment import official as _segment_importers  # noqa: F401

# clip-clap: the module imports without open_clip / laion_clap (they load when an encoder is
# built); guarded anyway so that an optional extractor can never break the CLI.
try:
    from .features.clip_clap import extractor as _clip_clap  # noqa: F401
except ImportError:  # pragma: no cover - only a broken install gets here
    pass

# the zero-shot model's head (CLIP/CLAP similarity, no weights): its card is assets/weights/zeroshot.json
from .zeroshot import model as _zeroshot_head  # noqa: F401, E402
