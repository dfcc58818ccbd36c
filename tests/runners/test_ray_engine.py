"""`avlocate batch --engine ray` on a local Ray instance (2 CPUs) started by this module.

Skipped when Ray is not installed, unless AVLOCATE_REQUIRE_RAY=1 (CI with the [ray] extra), where
a missing Ray fails instead. The reference for every line is the local batch on the same files.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

if os.environ.get("AVLOCATE_REQUIRE_RAY") == "1":
    import ray  # noqa: F401 - an ImportError here is the failure we want
    import ray.data  # noqa: F401
else:
    pytest.importorskip("ray.data", reason="Ray is an optional extra: pip install 'avlocate[ray]'")
import ray  # noqa: E402

from avlocate.runners.batch import find_videos, run_batch  # noqa: E402
from avlocate.cli import main  # noqa: E402
from avlocate.runners.ray.engine import RAY_MISSING, _placement, check_reachable, default_shards_dir, run_batch_ray
from avlocate.errors import EXIT_BATCH_FAILURES, EXIT_INTERNAL, MediaError, UsageError  # noqa: E402
from avlocate.synth import make_video  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
# The small bundled model: what is tested is the engine around it (a video of the default
# model costs several times more on a CPU, in every actor and in the reference batch).
OPTIONS = {"model": "lite-demo", "device": "cpu", "threshold": None}
MODEL_ARGS = ["--model", "lite-demo"]
SIZE = (160, 120)  # of the synthetic videos


@pytest.fixture(scope="module")
def ray_address() -> str:
    """One local Ray instance for the module; its actors can import tests/runners/ray_targets.py."""
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), old) if p)  # inherited by the workers
    try:
        ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three short synthetic videos (test seeds 500+) and a text file named like a video; at
    160x120 (a quarter of the default pixels, a quarter of the time to make them; each still has
    its event)."""
    folder = tmp_path_factory.mktemp("ray") / "videos"
    folder.mkdir()
    for i in range(3):
        make_video(folder / f"v{i}.mp4", seed=500 + i, duration=6.0, size=SIZE)
    (folder / "bad.mp4").write_text("this is not a video\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def local_records(videos: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("local") / "local.jsonl"
    run_batch(videos, out, OPTIONS, in_process=True)  # the local batch's own lines, no worker to start
    return _by_video(out)


def _lines(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def _by_video(path: Path) -> dict[str, dict]:
    records = _lines(path)
    by_video = {r["video"]: r for r in records}
    assert len(by_video) == len(records), "a video has two lines"
    return by_video


def test_same_lines_as_local_batch_then_resume(ray_address, videos, local_records, tmp_path) -> None:
    out = tmp_path / "ray.jsonl"
    seen: list[str] = []
    summary = run_batch_ray(videos, out, OPTIONS, on_done=lambda r: seen.append(r["video"]))
    names = {str(v) for v in find_videos(videos)}
    assert (summary.total, summary.skipped, summary.succeeded, summary.failed) == (4, 0, 3, 1)
    assert sorted(seen) == sorted(names)

    records = _by_video(out)
    assert set(records) == names
    bad = records[str(videos / "bad.mp4")]
    assert bad["error_code"] == MediaError.exit_code == local_records[bad["video"]]["error_code"]
    for video, record in records.items():
        local = local_records[video]
        assert record["events"] == local["events"], video
        assert record.get("error") == local.get("error"), video
        assert (record["model"], record["weights"]) == (local["model"], local["weights"])
    assert any(r["events"] for r in records.values()), "no events at all: the comparison is empty"

    # Shards: every line also lies in exactly one actor shard.
    shards = default_shards_dir(out)
    shard_records = [r for shard in shards.glob("*.jsonl") for r in _lines(shard)]
    assert sorted(r["video"] for r in shard_records) == sorted(names)
    assert {r["video"]: r for r in shard_records} == records

    before = out.read_bytes()
    again = run_batch_ray(videos, out, OPTIONS)
    assert (again.skipped, again.succeeded, again.failed) == (4, 0, 0)
    assert out.read_bytes() == before


def test_videos_in_flight_per_actor_give_the_same_lines(ray_address, videos, local_records, tmp_path) -> None:
    """Two videos per actor call (threads sharing the model): every video once, same events."""
    out = tmp_path / "ray_in_flight.jsonl"
    summary = run_batch_ray(videos, out, OPTIONS, in_flight=2)
    assert (summary.total, summary.succeeded, summary.failed) == (4, 3, 1)
    records = _by_video(out)
    assert set(records) == {str(v) for v in find_videos(videos)}
    for video, record in records.items():
        assert record["events"] == local_records[video]["events"], video
        assert record.get("error_code") == local_records[video].get("error_code"), video
    with pytest.raises(UsageError):
        run_batch_ray(videos, tmp_path / "x.jsonl", OPTIONS, in_flight=0)
    # They really ran together: on the in-flight threads of one actor.
    where = tmp_path / "where.jsonl"
    run_batch_ray(videos, where, OPTIONS, in_flight=2, target="ray_targets:where_it_ran")
    ran = _by_video(where)
    assert len(ran) == 4 and sum(r["thread"].startswith("avlocate-video") for r in ran.values()) >= 2


def test_videos_are_decoded_by_ray_tasks_beside_the_actors(ray_address, videos, tmp_path) -> None:
    """--ray-decode tasks (the default): another process decodes, and delivers every frame and
    sample that the actor's own decoding delivers (--ray-decode actor)."""
    runs = {}
    for decode in ("tasks", "actor"):
        out = tmp_path / f"{decode}.jsonl"
        summary = run_batch_ray(videos, out, OPTIONS, target="ray_targets:decoded_where", decode=decode)
        assert (summary.succeeded, summary.failed) == (3, 1)
        runs[decode] = _by_video(out)
    assert runs["tasks"].keys() == runs["actor"].keys()
    for video, by_task in runs["tasks"].items():
        in_actor = runs["actor"][video]
        if video.endswith("bad.mp4"):
            assert by_task["error"] == in_actor["error"] and by_task["error_code"] == MediaError.exit_code
            continue
        assert by_task["frames"] > 0 and by_task["samples"] > 0
        assert (by_task["frames"], by_task["samples"], by_task["warnings"]) == (
            in_actor["frames"], in_actor["samples"], in_actor["warnings"]), video
        assert by_task["decoder_pid"] not in (None, by_task["pid"]), "decoded inside the actor"
        assert in_actor["decoder_pid"] == in_actor["pid"]
    with pytest.raises(UsageError, match="--ray-decode"):
        run_batch_ray(videos, tmp_path / "x.jsonl", OPTIONS, decode="elsewhere")


@pytest.fixture()
def ray_prefetch_specs():
    from avlocate.media import AudioSpec, VideoSpec

    return VideoSpec(fps=10, width=32, height=24), AudioSpec(16000)


def _chunks(path, specs, mode, frames_per_chunk=7):
    from avlocate.media import open_clip

    clip = open_clip(path, *specs)
    clip.prefetch = mode
    return clip, list(clip.chunks(frames_per_chunk))


def test_ray_decoding_gives_the_chunks_of_local_decoding(ray_address, videos, ray_prefetch_specs) -> None:
    import torch

    _, here = _chunks(videos / "v0.mp4", ray_prefetch_specs, "off")
    clip, there = _chunks(videos / "v0.mp4", ray_prefetch_specs, "ray")
    assert len(there) == len(here) > 1
    for a, b in zip(here, there):
        assert torch.equal(a.frames, b.frames) and torch.equal(a.audio, b.audio)
        assert torch.equal(a.frame_times, b.frame_times)
        assert (a.first_frame, a.first_sample) == (b.first_frame, b.first_sample)
    there[0].frames[0, 0, 0, 0] = 7  # writable: not a view of Ray's read-only object store
    assert clip.stats.frames == sum(c.frames.shape[0] for c in here) and clip.stats.decode_seconds > 0
    assert clip.stats.decoder_pid not in (None, os.getpid())


def test_ray_decoding_brings_back_truncation_and_errors(ray_address, bad_inputs, ray_prefetch_specs,
                                                         tmp_path) -> None:
    from avlocate.media import open_clip

    clip, chunks = _chunks(bad_inputs["truncated_faststart"], ray_prefetch_specs, "ray", 5)
    assert clip.warnings["video"].startswith("truncated at") and clip.duration < clip.info.duration
    assert sum(c.frames.shape[0] for c in chunks) == clip.num_frames
    messages = {}
    for mode in ("off", "ray"):
        path = tmp_path / f"later_{mode}.mp4"
        make_video(path, seed=510, duration=6.0, size=SIZE)
        clip = open_clip(path, *ray_prefetch_specs)
        clip.prefetch = mode
        path.write_text("replaced by text\n")  # broken after open: the decoder meets it
        # The probe's open container would carry the local decoder through its first pass (one open
        # per file, issue #24): let it go, so both modes open the broken path where they decode.
        clip.release()
        with pytest.raises(MediaError) as info:
            list(clip.chunks())
        messages[mode] = str(info.value).replace(f"later_{mode}", "later")
    assert messages["ray"] == messages["off"]
    clip = open_clip(bad_inputs["no_audio"], *ray_prefetch_specs)
    clip.prefetch = "ray"
    stream = clip.chunks(2)
    assert next(stream).frames.shape[0] == 2
    stream.close()  # an early stop cancels the task; nothing hangs
    assert clip.stats.frames == 2


def test_ray_prefetch_outside_ray_is_a_usage_error(monkeypatch, ray_prefetch_specs) -> None:
    from avlocate.media import open_clip

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    clip = open_clip(REPO / "samples" / "demo1.mp4", *ray_prefetch_specs)
    clip.prefetch = "ray"
    with pytest.raises(UsageError, match="inside `avlocate batch --engine ray`"):
        next(iter(clip.chunks()))


def test_resume_folds_shard_lines_of_an_interrupted_run(ray_address, videos, local_records, tmp_path) -> None:
    """The driver died after two videos reached a shard but not ``out``: they are not redone."""
    out = tmp_path / "out.jsonl"
    shards = default_shards_dir(out)
    shards.mkdir()
    done = [str(videos / "v0.mp4"), str(videos / "bad.mp4")]
    lines = "".join(json.dumps(local_records[v]) + "\n" for v in done)
    (shards / "old-1-dead.jsonl").write_text(lines + '{"video": "torn', encoding="utf-8")
    summary = run_batch_ray(videos, out, OPTIONS)
    assert (summary.skipped, summary.succeeded, summary.failed) == (2, 2, 0)
    records = _by_video(out)
    assert set(records) == set(local_records)
    for v in done:
        assert records[v] == local_records[v]
    assert (shards / "old-1-dead.jsonl").read_text(encoding="utf-8") == lines  # torn end cut off


@pytest.mark.parametrize("in_flight", [1, 2])
def test_a_video_that_kills_its_worker_becomes_an_error_line(ray_address, videos, tmp_path, in_flight) -> None:
    """The only actor dies (the module's 2 CPUs hold one actor and its decoding): the video is
    retried once on a fresh actor, then becomes an error line; a video that was in the same actor
    call (in_flight 2) or never started is run again and succeeds. (Ray Data 2.52 hung when it
    restarted a pool's only actor: the engine now runs rounds of fresh pools instead.)"""
    folder = tmp_path / "crashy"
    folder.mkdir()
    shutil.copy(videos / "v0.mp4", folder / "a_fine.mp4")
    shutil.copy(videos / "v0.mp4", folder / "crash.mp4")
    shutil.copy(videos / "v1.mp4", folder / "z_fine.mp4")
    out = tmp_path / "crash.jsonl"
    summary = run_batch_ray(folder, out, OPTIONS, target="ray_targets:crash_on_name", in_flight=in_flight)
    assert (summary.succeeded, summary.failed) == (2, 1)
    records = _by_video(out)
    crashed = records[str(folder / "crash.mp4")]
    assert crashed["error_code"] == EXIT_INTERNAL and "died" in crashed["error"]
    for name in ("a_fine.mp4", "z_fine.mp4"):
        assert "error" not in records[str(folder / name)], name
        assert records[str(folder / name)]["events"], name


def test_cli_engine_ray(ray_address, videos, local_records, tmp_path, capsys) -> None:
    out = tmp_path / "cli.jsonl"
    assert main(["batch", str(videos), "--out", str(out), "--engine", "ray", *MODEL_ARGS]) == EXIT_BATCH_FAILURES
    assert "3 done, 1 failed" in capsys.readouterr().err
    records = _by_video(out)
    assert {v: r["events"] for v, r in records.items()} == {v: r["events"] for v, r in local_records.items()}


HANG_GUARD_S = 900


@pytest.mark.parametrize("where", ["--address", "local instance"])
def test_cli_in_a_fresh_process(where, ray_address, videos, local_records, tmp_path) -> None:
    """What a user types, in a fresh process: against this module's Ray instance (what a cluster
    user does with HEAD:6379), or starting a private 1-CPU instance of its own (`--workers 1`)."""
    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(videos / "v1.mp4", folder / "v1.mp4")
    out = tmp_path / "fresh.jsonl"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
    env.pop("RAY_ADDRESS", None)
    extra = ["--address", ray_address] if where == "--address" else ["--workers", "1"]
    # Waits for the process to end, however loaded the machine (starting Ray and a model on a
    # loaded 2-core machine took over the 120 s once assumed here). HANG_GUARD_S only stops a
    # real hang, far beyond any load seen.
    done = subprocess.run([sys.executable, "-m", "avlocate", "batch", str(folder), "--out", str(out),
                           "--engine", "ray", *MODEL_ARGS, *extra, "-q"],
                          capture_output=True, text=True, timeout=HANG_GUARD_S, cwd=REPO, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    [record] = _lines(out)
    assert record["video"] == str(folder / "v1.mp4")
    assert record["events"] == local_records[str(videos / "v1.mp4")]["events"]


@pytest.mark.parametrize("args, words", [
    (["--engine", "spark"], "--engine 'spark'"),
    (["--address", "head:6379"], "needs --engine ray"),
    (["--engine", "ray", "--timeout", "5"], "--timeout works with --engine local only"),
    (["--ray-decode", "actor"], "needs --engine ray"),
])
def test_cli_usage_errors(args, words, tmp_path, capsys) -> None:
    rc = main(["batch", str(tmp_path), "--out", str(tmp_path / "x.jsonl"), *args])
    assert rc == UsageError.exit_code
    assert words in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()


def test_missing_ray_is_a_usage_error(monkeypatch, videos, tmp_path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(UsageError) as info:
        run_batch_ray(videos, tmp_path / "x.jsonl", OPTIONS)
    assert str(info.value) == RAY_MISSING


class _FakeRay:
    def __init__(self, **resources: float) -> None:
        self.resources = resources

    def cluster_resources(self) -> dict[str, float]:
        return self.resources


def test_gpu_placement_rules() -> None:
    """One GPU per actor on ``cuda`` (Ray hides the other GPUs), CPU actors otherwise."""
    assert _placement(_FakeRay(CPU=8, GPU=2), {"device": "cuda:1"}, 5, 1.0) == ({"device": "cuda"}, 2, 1.0, 1.0)
    assert _placement(_FakeRay(CPU=8, GPU=4), {"device": "auto"}, 3, 1.0) == ({"device": "cuda"}, 3, 1.0, 1.0)
    assert _placement(_FakeRay(CPU=8), {"device": "auto"}, 20, 2.0) == ({"device": "auto"}, 4, 0.0, 2.0)
    assert _placement(_FakeRay(CPU=8, GPU=2), {"device": "cpu"}, 20, 1.0) == ({"device": "cpu"}, 8, 0.0, 1.0)
    with pytest.raises(UsageError, match="no GPU"):
        _placement(_FakeRay(CPU=8), {"device": "cuda"}, 3, 1.0)


def test_placement_leaves_cpus_for_the_decoding_tasks() -> None:
    """Actors that took every CPU would leave their decoding tasks waiting forever."""
    assert _placement(_FakeRay(CPU=2), {"device": "cpu"}, 5, 1.0, 0.5)[1:] == (1, 0.0, 1.0)
    assert _placement(_FakeRay(CPU=2), {"device": "cpu"}, 5, 1.0, 1.0)[1:] == (1, 0.0, 1.0)
    assert _placement(_FakeRay(CPU=9), {"device": "cpu"}, 20, 1.0, 0.5)[1:] == (6, 0.0, 1.0)
    assert _placement(_FakeRay(CPU=8, GPU=4), {"device": "auto"}, 9, 1.0, 2.0)[1:] == (2, 1.0, 1.0)
    # Smaller than one actor and its decoding (`--workers 1`): one actor, with the CPUs left.
    assert _placement(_FakeRay(CPU=1), {"device": "cpu"}, 5, 1.0, 0.5)[1:] == (1, 0.0, 0.5)
    with pytest.raises(UsageError, match="--ray-decode actor"):
        _placement(_FakeRay(CPU=1), {"device": "cpu"}, 5, 1.0, 1.0)


def test_an_address_where_nothing_listens_fails_fast() -> None:
    import socket

    with socket.socket() as s:  # a port that was just free: nothing listens on it now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UsageError, match="no Ray head answers"):
        check_reachable(f"127.0.0.1:{port}")
    with pytest.raises(UsageError, match="HOST:PORT"):
        check_reachable("head-node")
    check_reachable("ray://head-node:10001")  # Ray Client addresses are left to Ray
