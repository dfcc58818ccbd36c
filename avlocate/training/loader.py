"""Training batches of the dense heads, prepared ahead of the GPU.

- :class:`PreparedBatch`: padded features, mask and the official class-aware targets of a batch
  (everything the loss needs that does not depend on the model's output).
- :class:`PrefetchLoader`: a background thread crops, pads and builds the targets of the next
  ``depth`` batches (in pinned memory when the model is on a GPU) while the model trains on the
  current one; ``wait_s`` is the time the training loop spent waiting for data. One producer
  thread, so the order of random draws, and with it the batches, does not depend on timing.
- :func:`load_training_items`: the videos of a subset, held in memory when their feature files
  fit in half of the available memory, else read from disk per batch (:class:`LazyItem`).
"""
from __future__ import annotations

import os
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Union

import torch
import torch.nn.functional as F

from ..datasets.unav import FEATURE_FORMATS, Item, load_features, load_items, random_crop, videos
from ..heads.dense.layers import padded_length
from ..heads.dense.losses import level_points, point_targets


@dataclass
class LazyItem:
    """A video whose features stay on disk until a batch needs them."""

    video_id: str
    feat_dir: Path
    fmt: str
    segments: torch.Tensor  # (N, 2) feature steps
    labels: torch.Tensor
    duration: float

    def load(self) -> Item:
        visual, audio = load_features(self.feat_dir, self.video_id, self.fmt)
        return Item(self.video_id, visual, audio, self.segments, self.labels, self.duration)


AnyItem = Union[Item, LazyItem]


def materialize(item: AnyItem) -> Item:
    return item.load() if isinstance(item, LazyItem) else item


def available_memory() -> int | None:
    """Bytes of physical memory not in use (None where the OS does not say)."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def feature_bytes(database: dict[str, Any], feat_dir: Path, subset: str, fmt: str) -> int:
    """Size on disk of the feature files of ``subset`` (a float32 .npy is about its size in memory)."""
    spec = FEATURE_FORMATS[fmt]
    total = 0
    for v in videos(database, subset):
        for suffix in (*spec["visual"], *spec["audio"]):
            path = Path(feat_dir) / f"{v.video_id}{suffix}"
            total += path.stat().st_size if path.is_file() else 0
    return total


def load_training_items(database: dict[str, Any], feat_dir: Path, subset: str, fmt: str,
                        cache: str = "auto", log: Callable[[str], None] = print) -> list[AnyItem]:
    """``cache``: "memory" (read every file now), "disk" (read per batch) or "auto" (memory when
    the files fit in half of the available memory)."""
    if cache not in ("auto", "memory", "disk"):
        raise ValueError(f"cache must be auto, memory or disk, got {cache!r}")
    if cache == "auto":
        need, free = feature_bytes(database, feat_dir, subset, fmt), available_memory()
        cache = "memory" if free is None or need <= free // 2 else "disk"
        if cache == "disk":
            log(f"features: {need / 2**30:.1f} GiB do not fit in half of the {free / 2**30:.1f} GiB free memory; "
                "reading them from disk per batch")
    if cache == "memory":
        return list(load_items(database, feat_dir, subset, fmt))
    tl = FEATURE_FORMATS[fmt]["timeline"]
    out: list[AnyItem] = []
    for v in videos(database, subset):
        segs = tl.to_index(torch.from_numpy(v.segments)).to(torch.float32).reshape(-1, 2)
        out.append(LazyItem(v.video_id, Path(feat_dir), fmt, segs, torch.from_numpy(v.labels), v.duration))
    return out


@dataclass
class PreparedBatch:
    visual: torch.Tensor  # (B, Cv, L)
    audio: torch.Tensor  # (B, Ca, L)
    mask: torch.Tensor  # (B, 1, L) bool
    cls_targets: torch.Tensor  # (B, P, K): P points of all levels, level 0 first
    reg_targets: torch.Tensor  # (B, P, K, 2) in level strides
    snippet_targets: torch.Tensor | None  # (B, L, K) multi-hot (ESG-Net's guidance), or None
    size: int

    def _tensors(self) -> list[str]:
        return [f.name for f in fields(self) if isinstance(getattr(self, f.name), torch.Tensor)]

    def pin(self) -> "PreparedBatch":
        for name in self._tensors():
            setattr(self, name, getattr(self, name).pin_memory())
        return self

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "PreparedBatch":
        for name in self._tensors():
            setattr(self, name, getattr(self, name).to(device, non_blocking=non_blocking))
        return self


def collate(items: Sequence[Item], length: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Zero-pad at the end to ``length``: visual (B, Cv, L), audio (B, Ca, L), mask (B, 1, L)."""
    visual = torch.stack([F.pad(it.visual.t(), (0, length - it.visual.shape[0])) for it in items])
    audio = torch.stack([F.pad(it.audio.t(), (0, length - it.audio.shape[0])) for it in items])
    n = torch.tensor([it.visual.shape[0] for it in items])
    mask = (torch.arange(length)[None, :] < n[:, None])[:, None, :]
    return visual, audio, mask


def snippet_targets(items: Sequence[Item], length: int, num_classes: int) -> torch.Tensor:
    """(B, L, K) multi-hot: snippet t lies inside an event of class k (ESG-Net's guidance targets)."""
    out = torch.zeros(len(items), length, num_classes)
    t = torch.arange(length, dtype=torch.float32)
    for b, it in enumerate(items):
        for (s, e), k in zip(it.segments.tolist(), it.labels.tolist()):
            out[b, (t >= s) & (t <= e), int(k)] = 1.0
    return out


def prepare_batch(items: Sequence[Item], head_cfg: Any, guidance: bool = False) -> PreparedBatch:
    """Pad as the official ``preprocessing`` (max_seq_len, or the next multiple of the largest
    stride for a longer video) and label the points of every level as ``label_points``."""
    length = padded_length(max(it.visual.shape[0] for it in items), head_cfg.max_seq_len, head_cfg.max_stride)
    visual, audio, mask = collate(items, length)
    strides = [2 ** lv for lv in range(head_cfg.num_levels)]
    points = level_points([length // s for s in strides], strides, head_cfg.regression_ranges)
    targets = [point_targets(points, it.segments, it.labels, head_cfg.num_classes) for it in items]
    return PreparedBatch(visual, audio, mask, torch.stack([c for c, _ in targets]), torch.stack([r for _, r in targets]),
                         snippet_targets(items, length, head_cfg.num_classes) if guidance else None, len(items))


def steps_per_epoch(num_items: int, batch_size: int) -> int:
    """Full batches only, as the official loader (``drop_last=True`` in training: each epoch leaves
    out the remainder of its shuffle); a data set smaller than one batch gives one smaller batch."""
    return max(1, num_items // batch_size)


def epoch_batches(items: Sequence[AnyItem], batch_size: int, seed: int, epoch: int, max_len: int,
                  crop_ratio: tuple[float, float] | None, trunc_thresh: float) -> tuple[list[list[int]], Callable]:
    """The shuffled index groups of ``epoch`` and the function that crops one group.

    Each epoch draws from its own generator seeded by (seed, epoch), so a resumed run sees exactly
    the batches the uninterrupted run would have seen, without saving any generator state.
    """
    rng = random.Random(f"avlocate-dense/{seed}/{epoch}")
    order = list(range(len(items)))
    rng.shuffle(order)
    n = steps_per_epoch(len(items), batch_size)
    groups = [order[i * batch_size:(i + 1) * batch_size] for i in range(n)]

    def crop(group: list[int]) -> list[Item]:
        return [random_crop(materialize(items[i]), max_len, rng, crop_ratio, trunc_thresh) for i in group]

    return groups, crop


_END = object()


class PrefetchLoader:
    """Iterate prepared batches of ``groups`` while a thread prepares the next ``depth`` ones.

    ``depth=0`` prepares each batch in the calling thread (no thread, same batches).
    """

    def __init__(self, groups: Sequence[Any], prepare: Callable[[Any], PreparedBatch], device: torch.device | str,
                 depth: int = 2) -> None:
        self.groups, self.prepare, self.depth = list(groups), prepare, depth
        self.device = torch.device(device)
        self.wait_s = 0.0  # time the consumer spent waiting for a batch
        self.batches = 0

    def _ready(self, group: Any) -> PreparedBatch:
        batch = self.prepare(group)
        return batch.pin() if self.device.type == "cuda" else batch

    def __iter__(self) -> Iterator[PreparedBatch]:
        if self.depth <= 0:
            for group in self.groups:
                t0 = time.perf_counter()
                batch = self._ready(group).to(self.device)
                self.wait_s += time.perf_counter() - t0
                self.batches += 1
                yield batch
            return
        q: queue.Queue = queue.Queue(maxsize=self.depth)
        stop = threading.Event()

        def put(obj: Any) -> bool:
            while not stop.is_set():
                try:
                    q.put(obj, timeout=0.2)
                    return True
                except queue.Full:
                    continue
            return False

        def produce() -> None:
            try:
                for group in self.groups:
                    if stop.is_set() or not put(self._ready(group)):
                        return
                put(_END)
            except BaseException as exc:  # handed to the training loop, which raises it
                put(exc)

        thread = threading.Thread(target=produce, name="avlocate-prefetch", daemon=True)
        thread.start()
        try:
            while True:
                t0 = time.perf_counter()
                obj = q.get()
                self.wait_s += time.perf_counter() - t0
                if obj is _END:
                    return
                if isinstance(obj, BaseException):
                    raise obj
                self.batches += 1
                yield obj.to(self.device, non_blocking=True)
        finally:
            stop.set()
            while thread.is_alive():
                try:
                    q.get_nowait()
                except queue.Empty:
                    thread.join(timeout=0.05)
