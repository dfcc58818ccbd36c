"""The loaded model, the one door: card + extractor + head (+ weights), loaded once, used for
many videos (``.locate``) or a stream (``.stream``).

:func:`load` (``avlocate.load``) reads the card, refuses the run options the model does not
take, fetches missing extractor weights on first use (unless offline), builds the registered
extractor and head from the card's configs, loads the head's safetensors weights (strict: every
key must fit), checks that the card's feature protocol matches the extractor, and turns raw head
outputs into events with the decoder the card asks for. A head without a weights file (the
zero-shot similarity scorer) is built from the run's options by its ``for_run`` and decodes its
own outputs (card ``decode: {"kind": "head"}``). Nothing else builds a head; nothing is cached
behind the caller's back: whoever runs many videos holds the loaded model.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..decode.segments import scores_to_events
from ..errors import InputNotFoundError, ModelError, UsageError, WeightsError
from ..features.base import Extractor, Features
from ..registry import EXTRACTORS, HEADS
from ..results import Event, Result
from ..weights.card import ModelCard
from ..weights.checks import check_card_fits_head, config_value_problem, describe_state_mismatch, skeleton
from ..weights.store import load_card, load_state_dict

from . import DEFAULT_MODEL  # noqa: E402 - the constant lives in the light package init
from .options import RunOptions


def build_configured(cls: Any, config: dict[str, Any], what: str) -> Any:
    config_cls = getattr(cls, "config_class", None)
    if config_cls is None:
        return cls(**config) if config else cls()
    fields = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(config) - fields)
    if unknown:
        raise WeightsError(f"{what} config has unknown fields {unknown}; the card does not fit this version")
    problem = config_value_problem(config_cls, config)
    if problem is not None:
        raise WeightsError(f"{what} config in the model card is not valid ({problem})")
    try:
        return cls(config_cls(**config))
    except (TypeError, ValueError, RuntimeError, ZeroDivisionError, OverflowError) as exc:  # a value of the wrong type or range in the card
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WeightsError(f"{what} config in the model card is not valid ({first})") from None


def _runtime_fields(cls: Any, config: dict[str, Any], device: torch.device, precision: str | None,
                    what: str) -> dict[str, Any]:
    """The card's extractor config plus the loaded model's device, and ``precision`` when given,
    for extractors whose config dataclass has those fields (i3d-vggish, vgg19-vggish, clip-clap).
    Extractors without them (lite, plugins) get the card's config unchanged: they run where they
    run, and only fp32 may be asked of them."""
    config_cls = getattr(cls, "config_class", None)
    fields = {f.name for f in dataclasses.fields(config_cls)} if dataclasses.is_dataclass(config_cls) else set()
    out = dict(config)
    if "device" in fields:
        out["device"] = str(device)  # the head's device wins over a device written into a card
    if precision is not None:
        if "precision" in fields:
            out["precision"] = precision
        elif precision != "fp32":
            raise UsageError(f"{what} takes no precision option (its own config decides); use fp32")
    return out


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    # A device is a command-line value: a wrong one is a usage error (exit 2, README table).
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {device} asked for, but no CUDA GPU is available; use --device cpu")
    try:
        return torch.device(device)
    except RuntimeError:
        raise UsageError(f"unknown device {device!r}; use auto, cpu or cuda[:N]") from None


@dataclass
class LoadedModel:
    """Everything a run loads once. ``avlocate.load(model, **options)`` returns one."""

    card: ModelCard
    head: torch.nn.Module
    extractor: Extractor | None  # None: a head for stored features only (load(with_extractor=False))
    weights_id: str | None
    device: torch.device
    options: RunOptions = dataclasses.field(default_factory=RunOptions)

    @property
    def classes(self) -> list[str]:
        """The event names: the card's, or those a head takes at run time (zero-shot labels)."""
        return list(getattr(self.head, "classes", None) or self.card.classes)

    def locate(self, video: str | Path) -> Result:
        """The events of one video file, URL or ``-`` (standard input)."""
        from .video import locate_with

        return locate_with(self, video)

    def stream(self, source: str, config: Any = None, on_chunk: Any = None) -> Any:
        """Follow a stream that may never end (``run --live``): an iterable of events as each
        closes (:class:`avlocate.pipeline.live.LiveStream`; ``config``: a LiveConfig)."""
        from .live import open_stream

        return open_stream(self, source, config, on_chunk)

    @torch.inference_mode()
    def raw_outputs(self, features: Features) -> dict[str, torch.Tensor]:
        visual = features.visual.t().unsqueeze(0).to(self.device)
        audio = features.audio.t().unsqueeze(0).to(self.device)
        mask = torch.ones(1, 1, features.num_snippets, dtype=torch.bool, device=self.device)
        return {k: v[0].float().cpu() for k, v in self.head(visual, audio, mask).items()}

    def predict(self, features: Features, threshold: float | None = None,
                keep_scores: bool = False) -> tuple[list[Event], dict[str, Any]]:
        """Events of one video's features, plus per-snippet class scores (T, K) under "scores"
        where the head has them (dense heads compute them only when ``keep_scores``)."""
        if features.num_snippets == 0:
            return [], {}
        kind = self.card.decode.get("kind", "snippet-scores")
        decoder = _DECODERS.get(kind)
        if decoder is None:
            raise ModelError(f"model {self.card.name!r} asks for decoder {kind!r}, which this version lacks")
        with torch.inference_mode(), _head_clock(self.head) as clock:
            events, extra = decoder(self, features, threshold, keep_scores)
        extra["head_seconds"] = clock[0]
        note = nonfinite_note(features, extra.get("scores"))
        if note is not None:  # NaN scores are below every threshold: 0 events, which must not look like "none found"
            features.warnings["scores"] = note
        return events, extra


def nonfinite_note(features: Features, scores: torch.Tensor | None) -> str | None:
    """A warning when the features or the scores hold NaN or infinite values, else None."""
    bad = [name for name, t in (("visual features", features.visual), ("audio features", features.audio),
                                ("scores", scores)) if t is not None and t.numel() and not bool(torch.isfinite(t).all())]
    if not bad:
        return None
    return (f"the {' and '.join(bad)} hold NaN or infinite values (broken weights or features?); events may be "
            "missing, and such scores are written as null")


@contextmanager
def _head_clock(head: torch.nn.Module) -> Iterator[list[float]]:
    """Seconds spent in ``head``'s forward calls (all windows), the rest of predict being
    post-processing: forward hooks, so every decoder is timed the same way."""
    total, started = [0.0], []
    owner = threading.get_ident()  # with videos in flight, other threads run the same head

    def pre(module, args):  # noqa: ANN001, ANN202
        if threading.get_ident() == owner:
            started.append(time.perf_counter())

    def post(module, args, out):  # noqa: ANN001, ANN202
        if threading.get_ident() == owner:
            total[0] += time.perf_counter() - started.pop()

    handles = [head.register_forward_pre_hook(pre), head.register_forward_hook(post)]
    try:
        yield total
    finally:
        for h in handles:
            h.remove()


def _decode_params(model: LoadedModel) -> dict[str, Any]:
    return {k: v for k, v in model.card.decode.items() if k != "kind"}


def _snippet_scores(model: LoadedModel, features: Features, threshold: float | None, keep_scores: bool):  # noqa: ANN202
    """Multi-label per-snippet probabilities -> runs above threshold (the lite demo)."""
    params = _decode_params(model)
    probs = torch.sigmoid(model.raw_outputs(features)["logits"])
    thr = float(params.get("threshold", 0.5)) if threshold is None else float(threshold)
    events = scores_to_events(
        probs, model.card.classes, features.timeline, threshold=thr,
        min_duration=float(params.get("min_duration", 0.0)), max_gap_seconds=float(params.get("max_gap", 0.0)),
    )
    return events, {"scores": probs}


def _dense_snippet_scores(model: LoadedModel, visual: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
    """Per-snippet class scores (T, K) of a dense head: what its events are drawn from, the max
    over pyramid levels at each time step, in the same windows as detection
    (:func:`avlocate.heads.dense.windows.dense_score_curve`)."""
    from ..heads.dense.windows import dense_score_curve

    return dense_score_curve(model.head, visual, audio)


def _dense(model: LoadedModel, features: Features, threshold: float | None, keep_scores: bool):  # noqa: ANN202
    """Dense heads (UnAV, CCNet, ESG-Net): per-point classes + boundaries, Soft-NMS, seconds."""
    from ..decode.dense import DenseDecodeConfig, to_events
    from ..heads.dense.windows import locate_dense

    params = _decode_params(model)
    score_threshold = float(params.pop("threshold", 0.0)) if threshold is None else float(threshold)
    params.pop("threshold", None)
    cfg = DenseDecodeConfig(**params)
    visual, audio = features.visual.t().to(model.device), features.audio.t().to(model.device)
    dets = locate_dense(model.head, visual, audio, features.timeline, cfg)
    events = [e for e in to_events(dets, model.card.classes) if e.score >= score_threshold]
    return events, ({"scores": _dense_snippet_scores(model, visual, audio)} if keep_scores else {})


def ready_segment_head(model: LoadedModel) -> torch.nn.Module:
    """The segment head, with what it reads besides features: AVSGN's label-text embeddings of
    the card's classes, made once by the extractor's text towers (shared by file and live runs)."""
    head = model.head
    if hasattr(head, "set_label_text") and getattr(head, "text_clip", None) is None:
        emb = model.extractor.label_text(model.card.classes)
        head.set_label_text(emb.clip, emb.clap)
    return head


def _segments(model: LoadedModel, features: Features, threshold: float | None, keep_scores: bool):  # noqa: ANN202
    """1-second segment heads (VSCG, AVSGN): sliding 10-s windows, one label per segment, runs."""
    from ..decode.segments import labels_to_events
    from ..heads.segment.windows import sliding_segment_probs

    head = ready_segment_head(model)
    probs = sliding_segment_probs(head, features.audio, features.visual_segments(), device=model.device)
    labels = model.head.labels_from_probs(probs)
    scores = probs.gather(1, labels[:, None])[:, 0]
    events = labels_to_events(labels, scores, model.card.classes, features.timeline, background=len(model.card.classes))
    if threshold is not None:
        events = [e for e in events if e.score >= threshold]
    return events, {"scores": probs[:, : len(model.card.classes)]}


def _head_decodes(model: LoadedModel, features: Features, threshold: float | None, keep_scores: bool):  # noqa: ANN202
    """A head that decodes its own outputs (zero-shot: similarity scores, hysteresis, modalities)."""
    return model.head.decode_features(features, threshold, keep_scores)


_DECODERS = {"snippet-scores": _snippet_scores, "dense": _dense, "segments": _segments, "head": _head_decodes}


def _decode_fields(kind: str) -> set[str] | None:
    """The ``decode`` fields a card may set for the decoder ``kind`` (None: not listed here)."""
    if kind == "dense":
        from ..decode.dense import DenseDecodeConfig

        return {"threshold"} | {f.name for f in dataclasses.fields(DenseDecodeConfig)}
    return {"snippet-scores": {"threshold", "min_duration", "max_gap"}, "segments": {"threshold"}}.get(kind)


def check_decode_section(card: ModelCard) -> None:
    """Refuse, when the model loads (before any video is decoded), a decode section its decoder
    would reject after the whole video was decoded: an unknown decoder or field."""
    kind = card.decode.get("kind", "snippet-scores")
    if kind not in _DECODERS:
        raise ModelError(f"model {card.name!r} asks for decoder {kind!r}, which this version lacks")
    allowed = _decode_fields(kind)
    if allowed is None:  # a decoder without a field list here: its own checks apply
        return
    unknown = sorted(set(card.decode) - allowed - {"kind"})
    if unknown:
        raise WeightsError(f"model card of {card.name!r}: 'decode' has unknown fields {unknown} for decoder {kind!r}")


def _check_protocol(card: ModelCard, extractor: Extractor) -> None:
    want = card.feature_protocol
    have = extractor.protocol()
    mismatched = [k for k, v in want.items() if k in have and have[k] != v]
    if mismatched:
        detail = ", ".join(f"{k}: card {want[k]} vs extractor {have[k]}" for k in mismatched)
        raise ModelError(f"model {card.name!r} was trained on other features than extractor {extractor.name!r} gives "
                         f"({detail}); drop --extractor, or use a model trained on {extractor.name!r} features")


def load(model: str | None = None, options: RunOptions | None = None, *, fetch: bool = True,
         extractor: Extractor | None = None, with_extractor: bool = True) -> LoadedModel:
    """The model ``model`` (card name or card path; None: the bundled demo) for runs with
    ``options``, loaded once.

    ``fetch``: download the extractor's missing weights first (first use; never when an offline
    switch is set or when the run reuses stored features). ``extractor``: a ready extractor
    instance to use instead of building the card's (shared networks, stand-in encoders).
    ``with_extractor=False``: the head alone, for features extracted elsewhere (evaluation on a
    data set's stored features); its ``extractor`` is None, so it cannot locate videos.
    The head runs on ``options.device``; so does the extractor when its config has a ``device``
    field. ``options.precision`` ("fp32" | "bf16" | "fp16"; None: fp32) sets the extractor's
    autocast precision where it has one; the head always runs in float32.
    """
    opts = options if options is not None else RunOptions()
    name = model or DEFAULT_MODEL
    if fetch:  # an official model (unav, ccnet, vscg): its checkpoint is fetched and converted into its card
        from ..weights.fetch import ensure_model_weights

        ensure_model_weights(name)
    card = load_card(name)
    opts.check_model(card.name, card.options)
    check_decode_section(card)
    head_cls = HEADS.get(card.head)
    adapt = getattr(head_cls, "card_for_run", None)  # a head whose run options change its card (zero-shot's method)
    if adapt is not None:
        card = adapt(card, opts)
    if fetch and opts.features is None and extractor is None and with_extractor:
        from ..weights.fetch import ensure_for_run

        needs = getattr(head_cls, "weight_files_for_run", None)  # a head that names the files its run reads
        ensure_for_run(name, opts.extractor, needs(card, opts) if needs is not None else None)
    if opts.checkpoint is not None:
        if card.weights_file is None:
            raise UsageError(f"--checkpoint does not apply to model {card.name!r}: it has no trained weights")
        path = Path(opts.checkpoint).resolve()
        if path.is_dir():  # README table: a folder where a file is expected is 3
            raise InputNotFoundError(f"{opts.checkpoint}: is a folder; --checkpoint takes a .safetensors file")
        if path.suffix != ".safetensors":
            raise WeightsError(f"{opts.checkpoint}: --checkpoint takes a .safetensors file; convert a PyTorch "
                               "checkpoint once with `avlocate weights import`")
        if not path.is_file():
            raise InputNotFoundError(f"{opts.checkpoint}: no such checkpoint file; check the path (a .safetensors "
                                     "file, e.g. written by `avlocate train`)")
        # An absolute file name wins in the weights search path; the card's pin is for its own file.
        card = dataclasses.replace(card, weights_file=str(path), sha256=None)
    if opts.extractor is not None and opts.extractor != card.extractor:
        card = dataclasses.replace(card, extractor=opts.extractor, extractor_config={})
    dev = resolve_device(opts.device)
    if extractor is None and with_extractor:
        extractor_cls, what = EXTRACTORS.get(card.extractor), f"extractor {card.extractor!r}"
        extractor = build_configured(extractor_cls, _runtime_fields(extractor_cls, card.extractor_config, dev, opts.precision,
                                                          what), what)
    if extractor is not None:
        _check_protocol(card, extractor)
    if card.weights_file is None:  # a head without trained weights, built from the run's options
        for_run = getattr(head_cls, "for_run", None)
        if for_run is None:
            raise WeightsError(f"model card {card.name!r} names no weights_file, and head {card.head!r} "
                               "needs trained weights")
        head = for_run(card, extractor, opts)
        return LoadedModel(card, head, extractor, getattr(head, "weights_id", None), dev, opts)
    head_what = f"head {card.head!r}"
    state, weights_id = load_state_dict(card)
    broken = next((k for k, v in state.items() if v.is_floating_point() and bool(torch.isnan(v).any())), None)
    if broken is not None:  # NaN weights give NaN scores: 0 events that would look like a quiet video
        raise WeightsError(f"weights {weights_id} hold NaN values (tensor {broken!r}); the file is broken")
    # Shapes first, on the meta device: the card's sizes must match its weights before the head allocates.
    mismatch = describe_state_mismatch(skeleton(lambda: build_configured(head_cls, card.head_config, head_what)), state)
    if mismatch is not None:
        raise WeightsError(f"weights {weights_id} do not fit head {card.head!r}: {mismatch}")
    head = build_configured(head_cls, card.head_config, head_what)
    head.load_state_dict(state, strict=True)
    check_card_fits_head(card, head)
    head.eval().to(dev)
    return LoadedModel(card, head, extractor, weights_id, dev, opts)


def load_model(name: str | None = None, device: str = "auto", checkpoint: str | None = None,
               extractor_name: str | None = None, precision: str | None = None) -> LoadedModel:
    """:func:`load` without the first-use fetch, for code that names a model and a device only
    (training's evaluation of its own card, tests). Each call loads anew."""
    return load(name, RunOptions(device=device, checkpoint=checkpoint, extractor=extractor_name, precision=precision),
                fetch=False)
