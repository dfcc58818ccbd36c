"""``clip-clap``: CLIP image + CLAP audio embeddings per snippet (AVSGN's AVE features; zero-shot).

Snippets (defaults = the AVE protocol): windows of ``window_hops * hop_seconds`` seconds every
``hop_seconds`` — default 1-s segments, segment i <-> [i, i+1) s. The Timeline is
``Timeline(fps=1/hop, window=window_hops, stride=1)``; the zero-shot model's 1-s windows with a
0.5-s hop are ``hop_seconds=0.5, window_hops=2``.

Visual: ``frames_per_window`` (K) frames per window, at the centres of K equal parts of it
(K=1: the window's centre frame; the paper does not say how frames were sampled, and the centre
is the frame most representative of the whole second); their CLIP embeddings are averaged and
re-normalised. Frames are taken from the media layer's grid at ``2K / hop_seconds`` fps, on which
every such centre falls exactly; a frame shared by overlapping windows is embedded once.

Audio: the window's 48 kHz mono samples, embedded by CLAP with laion_clap's own preprocessing
(see ``clap_audio.py``: repeat-padded to 10 s). Windows are therefore limited to 10 s.

Length: a window counts when it ends at most ``end_tolerance_seconds`` after the clip's end
(AVE clips are nominally 10 s but often a few frames short; without the tolerance their tenth
segment would be lost); the missing audio tail of such a window is zero-padded. Both streams are
trimmed to the same length.

Streaming: frames are embedded in batches as chunks arrive and audio windows as soon as they are
complete, so memory stays bounded on long videos.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from ...registry import EXTRACTORS
from ...timeline import Timeline
from ..base import Extractor, Features
from . import _deps
from . import weights as W
from .text import LabelTextEmbeddings, ensemble_text_embeddings, label_text_embeddings


@dataclass
class ClipClapConfig:
    hop_seconds: float = 1.0  # AVE: one segment per second
    window_hops: int = 1  # window = window_hops * hop_seconds (AVE: 1 s)
    frames_per_window: int = 1  # K frames at the centres of K equal parts of a window
    end_tolerance_seconds: float = 0.1
    clip_arch: str = W.CLIP_DEFAULT_ARCH  # paper: a Swin-V2-L CLIP (not an open_clip built-in)
    clip_tag: str = W.CLIP_DEFAULT_TAG  # names the weights file clip_<arch>_<tag>.safetensors
    clip_weights: str | None = None  # explicit file (CLI --clip-weights)
    clap_amodel: str = W.CLAP_DEFAULT_AMODEL  # HTS-AT, as in the paper
    clap_tag: str = W.CLAP_DEFAULT_TAG
    clap_fusion: bool = False  # True for LAION's *-fusion-best checkpoints
    clap_weights: str | None = None  # explicit file (CLI --clap-weights)
    clap_text_dir: str | None = None  # roberta-base vocab.json + merges.txt (CLI --clap-text-dir)
    image_batch: int = 32
    audio_batch: int = 8
    decode_shorter_side: int | None = None  # None: decode at full size; CLIP's own resize follows
    device: str = "auto"  # "auto": CUDA when available, else CPU

    def __post_init__(self) -> None:
        if not self.hop_seconds > 0 or self.window_hops < 1 or self.frames_per_window < 1:
            raise ValueError("hop_seconds must be > 0, window_hops and frames_per_window >= 1")
        if self.window_seconds > 10.0 + 1e-9:
            raise ValueError(f"CLAP embeds at most 10 s of audio; window is {self.window_seconds:g} s")
        if abs(self.hop_seconds * 48_000 - round(self.hop_seconds * 48_000)) > 1e-6:
            raise ValueError("hop_seconds must be a whole number of 48 kHz samples")

    @property
    def window_seconds(self) -> float:
        return self.window_hops * self.hop_seconds


def _device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


class ClipClapExtractor(Extractor):
    name = "clip-clap"
    config_class = ClipClapConfig
    # Window i reads its own frames (centres of K equal parts) and exactly its own 48-kHz audio:
    # nothing before it, so --live blocks need no lead (tests/features/test_live_block_features.py).
    live_lead_snippets = 0

    def __init__(self, config: ClipClapConfig | None = None, clip_encoder: Any = None,
                 clap_encoder: Any = None) -> None:
        """Encoders are built from the weight files on first use; tests may pass built ones."""
        self.config = config or ClipClapConfig()
        self._clip = clip_encoder
        self._clap = clap_encoder

    @staticmethod
    def require_libraries() -> None:
        """A one-line error when open_clip / laion_clap is missing (first-use fetching asks this
        before it downloads gigabytes of weights for them)."""
        _deps.require("clip")
        _deps.require("clap")

    # -- encoders ---------------------------------------------------------------------------------
    @staticmethod
    def check_libraries() -> None:
        """open_clip and laion_clap are optional extras: say which is missing before a first-use
        download fetches gigabytes for them (avlocate/weights/fetch.py)."""
        from ._deps import require

        require("clip")
        require("clap")

    @property
    def clip(self) -> Any:
        if self._clip is None:
            from .clip_image import ClipEncoder

            c = self.config
            _deps.require("clip")  # a missing library is reported before a missing weights file
            src = W.locate("CLIP", c.clip_weights, (W.clip_weights_name(c.clip_arch, c.clip_tag),), "--clip-weights")
            self._clip = ClipEncoder.build(c.clip_arch, src.path, src.id, _device(c.device))
        return self._clip

    @property
    def clap(self) -> Any:
        if self._clap is None:
            from .clap_audio import ClapEncoder

            c = self.config
            _deps.require("clap")
            names = (W.clap_weights_name(c.clap_amodel, c.clap_tag), f"{c.clap_tag}.pt")
            src = W.locate("CLAP", c.clap_weights, names, "--clap-weights")
            tok_dir = None if c.clap_text_dir is None else Path(c.clap_text_dir)
            self._clap = ClapEncoder.build(src.path, c.clap_amodel, c.clap_fusion, weights_id=src.id,
                                           device=_device(c.device), tokenizer_dir=tok_dir)
        return self._clap

    def provenance(self) -> dict[str, str]:
        """Which weights produced the features (only for encoders already built)."""
        out = {}
        if self._clip is not None:
            out["clip"] = f"{self._clip.arch} {self._clip.weights_id}"
        if self._clap is not None:
            out["clap"] = f"{self._clap.amodel} {self._clap.weights_id}"
        return out

    # -- protocol ---------------------------------------------------------------------------------
    @property
    def visual_dim(self) -> int:
        if self._clip is not None:
            return int(self._clip.dim)
        if self.config.clip_arch == W.CLIP_DEFAULT_ARCH:
            return 512  # ViT-B-32's embed_dim; answered without importing open_clip
        return int((_deps.import_open_clip().get_model_config(self.config.clip_arch) or {}).get("embed_dim", 512))

    @property
    def audio_dim(self) -> int:
        return 512

    @property
    def timeline(self) -> Timeline:
        c = self.config
        return Timeline(float(Fraction(1) / Fraction(c.hop_seconds).limit_denominator(100_000)), c.window_hops, 1)

    @property
    def frame_fps(self) -> float:
        """Decode grid: 2K frames per hop, so every sampling centre is a grid frame."""
        return 2 * self.config.frames_per_window / self.config.hop_seconds

    def frame_indices(self, window: int) -> list[int]:
        """Grid indices of the K frames of ``window``: ``2K*i + (2j+1)*window_hops``."""
        k, h = self.config.frames_per_window, self.config.window_hops
        return [2 * k * window + (2 * j + 1) * h for j in range(k)]

    def num_windows(self, duration: float) -> int:
        c = self.config
        span = duration + c.end_tolerance_seconds - c.window_seconds
        return 0 if span < -1e-9 else int(math.floor(span / c.hop_seconds + 1e-9)) + 1

    def media_request(self, info=None):  # noqa: ANN001, ANN201
        from ...media import AudioSpec, VideoSpec

        return VideoSpec(fps=self.frame_fps, shorter_side=self.config.decode_shorter_side), AudioSpec(48_000)

    def share_forwards(self, wrap):  # noqa: ANN001, ANN201 — see Extractor.share_forwards
        # CLIP's image tower takes batch-first pixels; CLAP's audio tower is the batch-first
        # ClapAudioTower (laion_clap's own entry point takes a list of per-window dicts).
        model = self.clip.model
        model.visual = wrap("clip-visual", model.visual)
        clap = self.clap  # built now, so that threads never race to build it
        clap.audio_tower = wrap("clap-audio", clap.audio_tower)

    # -- extraction -------------------------------------------------------------------------------
    def extract(self, clip) -> Features:  # noqa: ANN001
        c = self.config
        clip_enc, clap_enc = self.clip, self.clap  # fail on missing weights before decoding anything
        hop = round(c.hop_seconds * 48_000)
        win = round(c.window_seconds * 48_000)
        # Every window is planned until the data ends: a stream (URL, pipe) has no known length
        # yet, and a file's header may understate it (two recordings concatenated, re-based onto
        # one timeline by media/timeline.py). The windows kept are counted from the length the
        # decoder found, once it has finished (below).
        planned = math.inf
        k2, offsets = 2 * c.frames_per_window, [(2 * j + 1) * c.window_hops for j in range(c.frames_per_window)]

        def wanted(g: int) -> bool:  # g in frame_indices(i) for some planned window i (no set: no length needed)
            return any(g >= o and (g - o) % k2 == 0 and (g - o) // k2 < planned for o in offsets)
        frame_emb: dict[int, torch.Tensor] = {}
        pixels: list[torch.Tensor] = []
        pixel_idx: list[int] = []
        audio_emb: list[torch.Tensor] = []
        audio_windows: list[torch.Tensor] = []
        buf, buf_start, next_win = torch.zeros(0), 0, 0

        def flush_frames(force: bool) -> None:
            if pixels and (force or len(pixels) >= c.image_batch):
                emb = clip_enc.encode_images(torch.cat(pixels), c.image_batch)
                frame_emb.update(zip(pixel_idx, emb))
                pixels.clear()
                pixel_idx.clear()

        def flush_audio(force: bool) -> None:
            if audio_windows and (force or len(audio_windows) >= c.audio_batch):
                audio_emb.append(clap_enc.encode_audio(audio_windows, c.audio_batch))
                audio_windows.clear()

        for chunk in clip.chunks(frames_per_chunk=16):
            keep = [n for n in range(chunk.frames.shape[0]) if wanted(chunk.first_frame + n)]
            if keep:
                pixels.append(clip_enc.preprocess_frames(chunk.frames[keep]))
                pixel_idx.extend(chunk.first_frame + n for n in keep)
                flush_frames(False)
            if chunk.audio.numel():
                buf = torch.cat([buf, chunk.audio.float()])
                while next_win < planned and next_win * hop + win <= buf_start + buf.numel():
                    s = next_win * hop - buf_start
                    audio_windows.append(buf[s:s + win].clone())
                    next_win += 1
                    flush_audio(False)
                drop = min(next_win * hop - buf_start, buf.numel())
                buf, buf_start = buf[drop:], buf_start + drop
        flush_frames(True)

        t = self.num_windows(float(clip.duration))  # the duration shrinks for a truncated file
        while next_win < t:  # within the end tolerance: zero-pad the missing audio tail
            s = next_win * hop - buf_start
            piece = buf[max(s, 0):s + win]
            audio_windows.append(F.pad(piece, (0, win - piece.numel())))
            next_win += 1
        flush_audio(True)
        audio = torch.cat(audio_emb) if audio_emb else torch.zeros(0, self.audio_dim)
        t = min(t, audio.shape[0])
        while t > 0 and not all(g in frame_emb for g in self.frame_indices(t - 1)):
            t -= 1  # a window whose frames were not decoded (e.g. truncated video) is dropped
        visual = torch.zeros(0, clip_enc.dim)
        if t:
            stacked = torch.stack([torch.stack([frame_emb[g] for g in self.frame_indices(i)]) for i in range(t)])
            visual = F.normalize(stacked.mean(dim=1), dim=-1)  # mean of unit vectors, back to unit length
        warnings = dict(getattr(clip, "warnings", {}) or {})
        if t == 0:
            warnings["features"] = f"video shorter than one {c.window_seconds:g}-s window: nothing to score"
        duration = float(clip.duration) if math.isfinite(float(clip.duration)) else None
        return Features(visual.contiguous(), audio[:t].contiguous(), self.timeline.with_duration(duration),
                        self.name, warnings)

    # -- text -------------------------------------------------------------------------------------
    def label_text(self, class_names: Sequence[str], background: str | None = "auto") -> LabelTextEmbeddings:
        """AVSGN's label-text embeddings (K event classes x 512, from CLIP and from CLAP)."""
        return label_text_embeddings(self.clip, self.clap, class_names, background)

    def text_embeddings(self, names: Sequence[str], clip_templates: Sequence[str],
                        clap_templates: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompt-ensembled (K, D) class embeddings for the zero-shot model: (CLIP, CLAP)."""
        return (ensemble_text_embeddings(self.clip, names, clip_templates),
                ensemble_text_embeddings(self.clap, names, clap_templates))


EXTRACTORS.register("clip-clap")(ClipClapExtractor)
