"""Miniature UnAV-100 and AVE in their published formats, served by the local hosts, and a data-set
table (``$AVLOCATE_DATASETS``) that is the built-in one with the raw-git URLs pointed at the local
host and the checks of the miniature files (the Drive ids stay: the Drive stand-in serves them)."""
from __future__ import annotations

import copy
import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from avlocate.datasets.registry import BUILTIN, as_records

CLASSES = ["dog_barking", "car_horn", "guitar", "church_bell"]  # 4: ESG-Net splits classes over its heads
LITE = {"fps": 8.0, "window": 4, "stride": 2, "visual": 56, "audio": 81}


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def tar_bytes(members: dict[str, bytes], mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def git_blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324 - git's object id


def _split(i: int, train: int) -> str:
    return "train" if i < train else "test"


def unav_annotations(lengths: list[int], train: int, rng: np.random.Generator, fps: float, window: int,
                     stride: int) -> tuple[dict, dict[str, list[tuple[int, int, int]]]]:
    """The official JSON structure; events in seconds on the feature grid (and in steps, returned)."""
    database, steps = {}, {}
    for i, t in enumerate(lengths):
        vid = f"yt{i:03d}xyz"
        anns, st = [], []
        for j in range(int(rng.integers(1, 3))):
            k = (2 * i + j) % len(CLASSES)  # every class appears
            s = int(rng.integers(0, t - 8))
            e = int(min(t - 1, s + rng.integers(5, 10)))
            secs = [round((x * stride + 0.5 * window) / fps, 3) for x in (s, e)]
            anns.append({"segment": secs, "label": CLASSES[k], "label_id": k})
            st.append((s, e, k))
        database[vid] = {"duration": round((t * stride + window) / fps, 3), "subset": _split(i, train),
                         "annotations": anns}
        steps[vid] = st
    return {"version": "unav100", "database": database}, steps


def mini_unav_i3d(n: int = 4, seed: int = 0) -> tuple[bytes, dict[str, bytes]]:
    """Annotations + the three Drive files of the i3d-vggish features (T x 1024 / 1024 / 128), each
    in another container: rgb in a zip (in a folder), flow in a tar.gz, vggish in a plain tar."""
    rng = np.random.default_rng(seed)
    lengths = [int(rng.integers(12, 16)) for _ in range(n)]
    ann, _ = unav_annotations(lengths, n - 1, rng, 25.0, 24, 8)
    rgb, flow, vgg = {}, {}, {}
    for vid, t in zip(ann["database"], lengths):
        rgb[f"unav100/rgb/{vid}_rgb.npy"] = npy_bytes(rng.standard_normal((t, 1024)).astype(np.float32))
        flow[f"flow/{vid}_flow.npy"] = npy_bytes(rng.standard_normal((t, 1024)).astype(np.float32))
        vgg[f"{vid}_vggish.npy"] = npy_bytes(rng.standard_normal((t - 1, 128)).astype(np.float32))
    return json.dumps(ann).encode(), {"i3d-rgb": zip_bytes(rgb), "i3d-flow": tar_bytes(flow, "w:gz"),
                                      "vggish": tar_bytes(vgg, "w")}


def mini_unav_lite(train: int = 6, test: int = 3, seed: int = 1) -> tuple[bytes, dict[str, bytes]]:
    """Annotations + features of avlocate's lite extractor (56 / 81 channels at its 8-fps grid),
    learnable: an event raises its class's channel in both streams."""
    rng = np.random.default_rng(seed)
    lengths = [int(rng.integers(28, 40)) for _ in range(train + test)]
    ann, steps = unav_annotations(lengths, train, rng, LITE["fps"], LITE["window"], LITE["stride"])
    visual, audio = {}, {}
    for vid, t in zip(ann["database"], lengths):
        v = rng.normal(0, 0.3, (t, LITE["visual"])).astype(np.float32)
        a = rng.normal(0, 0.3, (t, LITE["audio"])).astype(np.float32)
        for s, e, k in steps[vid]:
            v[s:e + 1, k] += 2.0
            a[s:e + 1, k] += 2.0
        visual[f"lite/{vid}_visual.npy"] = npy_bytes(v)
        audio[f"lite/{vid}_audio.npy"] = npy_bytes(a)
    return json.dumps(ann).encode(), {"lite-visual": zip_bytes(visual), "lite-audio": tar_bytes(audio, "w:gz")}


def _h5_bytes(tmp: Path, name: str, key: str, array: np.ndarray) -> bytes:
    import h5py

    path = tmp / name
    with h5py.File(path, "w") as f:
        f.create_dataset(key, data=array)
    data = path.read_bytes()
    path.unlink()
    return data


def mini_ave(tmp: Path, seed: int = 2) -> dict[str, bytes]:
    """Annotations.txt (no header, ``&``-separated), the three order files (key ``order``) and the
    two feature files (key ``avadataset``, official shapes (N, 10, 7, 7, 512) / (N, 10, 128))."""
    rng = np.random.default_rng(seed)
    cats = ["Church bell", "Male speech, man speaking", "Dog"]
    n = 12
    lines, rows = [], []
    for i in range(n):
        c = cats[i % 3]
        s = int(rng.integers(0, 6))
        e = int(rng.integers(s + 2, 11))
        lines.append(f"{c}&vid{i:04d}abc&good&{s}&{e}")
        rows.append((i % 3, s, e))
    visual = rng.normal(0, 0.1, (n, 10, 7, 7, 512)).astype(np.float32)
    audio = rng.normal(0, 0.1, (n, 10, 128)).astype(np.float32)
    for i, (k, s, e) in enumerate(rows):
        visual[i, s:e, :, :, k] += 1.0
        audio[i, s:e, k] += 1.0
    order = np.arange(n)
    return {
        "annotations": ("\n".join(lines) + "\n").encode(),
        "train-order": _h5_bytes(tmp, "train_order.h5", "order", order[:8]),
        "val-order": _h5_bytes(tmp, "val_order.h5", "order", order[8:10]),
        "test-order": _h5_bytes(tmp, "test_order.h5", "order", order[10:]),
        "audio-features": _h5_bytes(tmp, "audio_feature.h5", "avadataset", audio),
        "visual-features": _h5_bytes(tmp, "visual_feature.h5", "avadataset", visual),
    }


def serve(table_path: Path, git_host, drive, unav: tuple[bytes, dict[str, bytes]] | None = None,
          lite: tuple[bytes, dict[str, bytes]] | None = None, ave: dict[str, bytes] | None = None,
          drive_mode: str = "direct") -> dict:
    """Put the miniature files on the hosts and write the table pointing at them."""
    from drive_server import DriveFile

    records = copy.deepcopy(as_records(BUILTIN))
    by_name = {r["name"]: r for r in records}

    def host_file(entry: dict, data: bytes) -> None:
        if entry["source"].startswith("drive:"):
            drive.files[entry["source"][6:]] = DriveFile(data, name=f"{entry['name']}.bin", mode=drive_mode)
        else:
            path = entry["source"].split("://", 1)[1].split("/", 1)[1]
            git_host.files[path] = data
            entry["source"] = f"{git_host.url}/{path}"
            kind = entry["check"].split(":")[0]
            entry["check"] = f"sha256:{hashlib.sha256(data).hexdigest()}" if kind == "sha256" else f"git-blob-sha1:{git_blob(data)}"
            entry["bytes"], entry["size"] = len(data), f"{len(data)} bytes"

    u = by_name["unav100"]
    if unav is not None or lite is not None:
        ann = (unav or lite)[0]
        host_file(u["annotations"][0], ann)
    if unav is not None:
        for f in u["features"]["i3d-vggish"]["files"]:
            host_file(f, unav[1][f["name"]])
    if lite is not None:
        files = []
        for i, (name, members) in enumerate((("lite-visual", "*_visual.npy"), ("lite-audio", "*_audio.npy"))):
            files.append({"name": name, "source": f"drive:miniLite{i}", "check": "none", "dest": "features/lite",
                          "unpack": True, "members": members, "size": "small"})
            drive.files[f"miniLite{i}"] = DriveFile(lite[1][name], name=f"{name}.bin", mode=drive_mode)
        u["features"]["lite"] = {"name": "lite", "format": "lite", "folder": "features/lite", "extractor": "lite",
                                 "dims": {"_visual.npy": LITE["visual"], "_audio.npy": LITE["audio"]},
                                 "files": files}
        u["default_features"] = "lite"
    if ave is not None:
        a = by_name["ave"]
        for f in a["annotations"] + a["features"]["vgg19-vggish"]["files"] + [a["videos"]]:
            if f["name"] in ave:
                host_file(f, ave[f["name"]])
    table_path.write_text(json.dumps({"datasets": records}))
    return by_name


# -- the AVE videos, for AVSGN (clip-clap features extracted by avlocate) ---------------------------
AVE_LOOK = {"Church bell": ((230, 200, 30), 440.0), "Male speech, man speaking": ((30, 90, 230), 880.0),
            "Dog": ((40, 200, 60), 1320.0)}  # the categories of mini_ave: a colour and a tone each
GREY = (128, 128, 128)


def ave_video_zip(tmp: Path, annotations: bytes, leave_out: tuple[str, ...] = ()) -> bytes:
    """``AVE_Dataset.zip`` as published (``AVE/<id>.mp4`` + the annotation text files): one 10-s
    video per annotated clip (32x32, 8 fps, 48 kHz mono AAC), showing its class's colour and
    sounding its tone during the event's seconds, grey and silent otherwise."""
    from avlocate.media import write_av

    fps, sr = 8, 48_000
    members: dict[str, bytes] = {}
    for line in annotations.decode().splitlines():
        cat, vid, _, s, e = line.split("&")
        if vid in leave_out:
            continue
        colour, tone = AVE_LOOK[cat]
        frames = np.empty((10 * fps, 32, 32, 3), np.uint8)
        audio = np.zeros(10 * sr, np.float32)
        for sec in range(10):
            inside = int(s) <= sec < int(e)
            frames[sec * fps:(sec + 1) * fps] = colour if inside else GREY
            if inside:
                t = np.arange(sr) / sr
                audio[sec * sr:(sec + 1) * sr] = 0.4 * np.sin(2 * np.pi * tone * t)
        path = write_av(tmp / f"{vid}.mp4", frames, fps, audio, sr, crf=18)
        members[f"AVE/{vid}.mp4"] = path.read_bytes()
        path.unlink()
    members["Annotations.txt"] = annotations
    members["trainSet.txt"] = b""
    return zip_bytes(members)


class MeanColourClip:
    """Stand-in for CLIP's towers (open_clip is an optional extra): a frame's embedding is its mean
    colour (padded to 512), a text's a unit vector seeded by the text."""

    dim, arch, weights_id = 512, "stand-in", "mean-colour"

    def preprocess_frames(self, frames):  # noqa: ANN001, ANN201
        return frames.float().mean(dim=(1, 2))

    def encode_images(self, pixels, batch_size: int = 32):  # noqa: ANN001, ANN201
        import torch

        return torch.nn.functional.pad(pixels, (0, self.dim - pixels.shape[1]))

    def encode_text(self, texts, batch_size: int = 64):  # noqa: ANN001, ANN201
        import torch

        gens = [torch.Generator().manual_seed(sum(map(ord, t)) * 7919 + len(t)) for t in texts]
        return torch.nn.functional.normalize(torch.stack([torch.randn(self.dim, generator=g) for g in gens]), dim=-1)


class ToneClap(MeanColourClip):
    """Stand-in for CLAP's towers (laion_clap is an optional extra): an audio window's embedding
    is (dominant frequency / 1 kHz, RMS, 0, ...); ``windows`` counts the windows it embedded."""

    amodel, weights_id = "stand-in", "dominant-tone"

    def __init__(self) -> None:
        self.windows = 0

    def encode_audio(self, windows, batch_size: int = 8):  # noqa: ANN001, ANN201
        import torch

        self.windows += len(windows)
        out = torch.zeros(len(windows), self.dim)
        for n, w in enumerate(windows):
            spec = torch.fft.rfft(w.double()).abs()
            out[n, 0] = float(spec.argmax()) * 48_000 / w.numel() / 1000.0
            out[n, 1] = float(w.double().pow(2).mean().sqrt())
        return out


def stand_in_clip_clap(clip: MeanColourClip | None = None, clap: ToneClap | None = None):  # noqa: ANN201
    """avlocate's clip-clap extractor (its real decoding, windowing and writing) on the stand-in towers."""
    from avlocate.features.clip_clap.extractor import ClipClapConfig, ClipClapExtractor

    return ClipClapExtractor(ClipClapConfig(device="cpu"), clip_encoder=clip or MeanColourClip(),
                             clap_encoder=clap or ToneClap())
