"""Byte-mutation fuzzing (hypothesis) of the media layer and the weights/card loaders. Slow: opt in
with ``-m slow``; each test is bounded by its example count and a hang guard.

Contract under test: any byte string either loads (with consistent shapes) or raises an
AvlocateError with a one-line message; never another exception, a crash or a hang. A failure
found here becomes a regular test (test_regressions.py, and a corpus file when it is a kind of
file users meet: ``ts_audio_change``).
"""
from __future__ import annotations

import faulthandler
import json
import math
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avlocate.errors import AvlocateError, WeightsError
from avlocate.media import AudioSpec, VideoSpec, open_clip, probe
from avlocate.weights.card import ModelCard
from avlocate.weights.store import load_state_dict

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "media"))
from corpus import make_video  # noqa: E402

HANG_GUARD_S = 120  # per example: a hang dumps all stacks and ends the run instead of blocking CI
# Random (not derandomized): each run explores new mutations; a failure prints its example.
SETTINGS = settings(max_examples=400, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("fuzz_seeds")
    return {
        "mp4": make_video(d / "a.mp4", seconds=1.0, sample_rate=16000, channels=1).read_bytes(),
        "mp4_faststart": make_video(d / "b.mp4", seconds=1.0, faststart=True).read_bytes(),
        "mkv": make_video(d / "c.mkv", seconds=1.0, format="matroska", audio_codec="libopus").read_bytes(),
        # Joined TS segments whose audio format changes: the file kind the fuzzing bug came from.
        "ts_joined": make_video(d / "d.ts", seconds=1.0, sample_rate=16000, channels=1, format="mpegts").read_bytes()
        + make_video(d / "e.ts", seconds=1.0, sample_rate=44100, channels=2, format="mpegts").read_bytes(),
    }


def mutations(max_ops: int = 8):  # noqa: ANN201
    """Lists of (kind, position, payload): mostly small overwrites (they keep the file
    parseable, so decoding gets deep into damaged data), some inserts, deletes and truncations."""
    kinds = ["overwrite"] * 4 + ["insert", "delete", "truncate"]
    # Positions as large integers taken modulo the length: hypothesis shrinks floats towards 0 and
    # 0.5, which kept nearly every mutation in the file header; integers spread them over the file.
    op = st.tuples(st.sampled_from(kinds), st.integers(0, 2**31), st.binary(min_size=1, max_size=16))
    return st.lists(op, min_size=1, max_size=max_ops)


def mutate(data: bytes, ops) -> bytes:  # noqa: ANN001
    buf = bytearray(data)
    for kind, where, payload in ops:
        i = where % (len(buf) + 1)
        if kind == "overwrite":
            buf[i : i + len(payload)] = payload
        elif kind == "insert":
            buf[i:i] = payload
        elif kind == "delete":
            del buf[i : i + len(payload)]
        else:
            del buf[i:]
    return bytes(buf)


def _one_line(err: AvlocateError) -> None:
    assert "\n" not in str(err) and str(err)


#: Frames streamed per example at most: a damaged file can claim hours (see test_regressions.py);
#: the contract is checked on the whole clip only below this, and on bounded chunks always.
MAX_FRAMES = 8 * 600
FPC = 64


def _media_contract(path: Path) -> None:
    try:
        probe(path)
        clip = open_clip(path, VideoSpec(fps=8, shorter_side=48), AudioSpec(16000))
        frames = samples = 0
        complete = True
        for chunk in clip.chunks(frames_per_chunk=FPC, audio_chunk_seconds=10.0):
            assert chunk.frames.dtype == torch.uint8 and chunk.frames.shape[0] <= FPC
            # Bounded memory: a chunk's frames' worth of audio plus the 10-s silence pieces.
            assert chunk.audio.shape[0] <= (FPC / 8 + 10 + 2) * 16000
            frames += chunk.frames.shape[0]
            samples += chunk.audio.shape[0]
            if frames > MAX_FRAMES:
                complete = False
                break
    except AvlocateError as err:
        _one_line(err)
        return
    if complete:
        assert frames == max(1, math.floor(clip.duration * 8 + 1e-3))
        assert samples == round(clip.duration * 16000)


@pytest.mark.slow
@pytest.mark.parametrize("seed", ["mp4", "mp4_faststart", "mkv", "ts_joined"])
def test_fuzz_media_layer(seeds, tmp_path, seed):
    path = tmp_path / f"fuzz.{ {'mkv': 'mkv', 'ts_joined': 'ts'}.get(seed, 'mp4') }"

    @settings(SETTINGS, max_examples=1000)
    @given(ops=mutations())
    def run(ops):  # noqa: ANN001, ANN202
        path.write_bytes(mutate(seeds[seed], ops))
        faulthandler.dump_traceback_later(HANG_GUARD_S, exit=True)
        try:
            _media_contract(path)
        finally:
            faulthandler.cancel_dump_traceback_later()

    run()


@pytest.fixture(scope="module")
def weights_seed(tmp_path_factory) -> tuple[Path, bytes, bytes]:
    from avlocate.heads.lite import LiteAVHead, LiteHeadConfig
    from avlocate.weights.store import save_weights

    d = tmp_path_factory.mktemp("fuzz_weights")
    torch.manual_seed(0)
    card = ModelCard(name="fz", head="lite-av", extractor="lite", classes=["a", "b"], weights_file="fz.safetensors",
                     head_config={"num_classes": 2, "hidden": 4})
    save_weights(LiteAVHead(LiteHeadConfig(num_classes=2, hidden=4)).state_dict(), card, d)
    return d, (d / "fz.safetensors").read_bytes(), (d / "fz.json").read_bytes()


@pytest.mark.slow
def test_fuzz_safetensors_loader(weights_seed, monkeypatch):
    d, weights, _ = weights_seed
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(d))
    card = ModelCard(name="fz", head="lite-av", extractor="lite", classes=["a", "b"], weights_file="fuzzed.safetensors")

    @SETTINGS
    @given(ops=mutations(4))
    def run(ops):  # noqa: ANN001, ANN202
        (d / "fuzzed.safetensors").write_bytes(mutate(weights, ops))
        try:
            state, _ = load_state_dict(card)
        except WeightsError as err:
            _one_line(err)
            return
        assert all(isinstance(v, torch.Tensor) for v in state.values())

    run()


@pytest.mark.slow
def test_fuzz_model_card_loader(weights_seed, tmp_path):
    _, _, card_bytes = weights_seed
    path = tmp_path / "card.json"

    @SETTINGS
    @given(ops=mutations(4))
    def run(ops):  # noqa: ANN001, ANN202
        path.write_bytes(mutate(card_bytes, ops))
        try:
            card = ModelCard.load(path)
        except WeightsError as err:
            _one_line(err)
            return
        assert card.classes and all(isinstance(c, str) for c in card.classes)
        objects = (card.head_config, card.extractor_config, card.feature_protocol, card.decode, card.provenance)
        assert all(isinstance(o, dict) for o in objects) and isinstance(card.name, str)

    run()


@pytest.mark.slow
@given(value=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                          max_leaves=6))
@settings(max_examples=300, deadline=None, database=None)
def test_fuzz_card_field_types(tmp_path_factory, value):
    """Each required field replaced by arbitrary JSON: a card or a WeightsError, nothing else."""
    base = {"name": "x", "head": "lite-av", "extractor": "lite", "classes": ["a"], "weights_file": "x.safetensors"}
    path = tmp_path_factory.mktemp("card") / "card.json"
    for key in base:
        path.write_text(json.dumps(base | {key: value}))
        try:
            card = ModelCard.load(path)
        except WeightsError as err:
            _one_line(err)
            continue
        assert isinstance(card.head_config, dict) and isinstance(card.name, str) and card.name
