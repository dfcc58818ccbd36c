"""Every corpus file ends in a result or a one-line error with its documented exit code.

`avlocate batch --timeout` runs once over the whole corpus folder in a fresh process (as a user
would); `avlocate run` runs on each file in-process. Neither may print a traceback or hang.
"""
from __future__ import annotations

import json
import time

import pytest

from avlocate.errors import ALL_ERRORS, EXIT_BATCH_FAILURES, EXIT_INTERNAL, MediaError
from avlocate.media import probe

from harness import MODEL, run_avlocate
from make_corpus import KEYS, SLOW

DOCUMENTED = {0} | {cls.exit_code for cls in ALL_ERRORS} | {EXIT_INTERNAL}
# The per-video limit decides no line by the machine's load. Files that only the limit stops
# (make_corpus.SLOW, kept in their own folder) get a short one: a busier machine only makes them
# slower, so they time out all the same. Every other file gets a limit far above its time on any
# machine, which still turns a hang into one error line.
SLOW_TIMEOUT = 6.0
BATCH_TIMEOUT = 120.0


@pytest.fixture(scope="session")
def corpus_batch(corpus, model_dir, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("corpus_out")
    slow_folders = {corpus[key].path.parent for key in SLOW}
    folders = [(corpus["empty"].path.parent, BATCH_TIMEOUT)] + [(f, SLOW_TIMEOUT) for f in sorted(slow_folders)]
    procs, records = [], []
    for i, (folder, limit) in enumerate(folders):
        out = out_dir / f"results{i}.jsonl"
        # The subprocess limit is the "never a hang" check for the batch as a whole.
        procs.append(run_avlocate("batch", folder, "--out", out, "--model", MODEL, "--timeout", limit, "-q",
                                  timeout=900))
        records += [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return procs, records


def test_corpus_is_large_and_documented(corpus):
    assert len(corpus) >= 30 and sorted(corpus) == sorted(KEYS)
    assert all(entry.expected in DOCUMENTED and entry.batch_expected in DOCUMENTED for entry in corpus.values())
    assert len({entry.path for entry in corpus.values()}) == len(corpus)


def test_batch_over_corpus_ends_cleanly(corpus, corpus_batch):
    procs, records = corpus_batch
    for proc in procs:
        assert proc.code == EXIT_BATCH_FAILURES, proc.err
        assert "Traceback" not in proc.err
    videos = [r["video"] for r in records]
    assert len(videos) == len(set(videos)), "a video was processed twice (symlink loop?)"
    assert not any("/loop/" in v for v in videos)
    assert set(videos) == {str(e.path) for e in corpus.values() if e.in_batch}




@pytest.mark.parametrize("key", KEYS)
def test_batch_line_of_each_file(corpus, corpus_batch, key):
    entry = corpus[key]
    if not entry.in_batch:
        pytest.skip("not a video file name or not a file: batch does not pick it up")
    _, records = corpus_batch
    (record,) = [r for r in records if r["video"] == str(entry.path)]
    assert record.get("error_code", 0) == entry.batch_expected, record.get("error")
    if entry.batch_expected:
        assert "\n" not in record["error"] and str(entry.path) in record["error"]
    else:
        assert record["duration"] > 0 and isinstance(record["events"], list)


RUN_KEYS = KEYS


@pytest.mark.parametrize("key", RUN_KEYS)
def test_run_on_each_file(cli, corpus, model_dir, key):
    entry = corpus[key]
    if key in SLOW:
        pytest.skip("needs the batch time limit (checked by test_batch_line_of_each_file)")
    r = cli("run", "--model", MODEL, "-q", "-f", "json", "--", entry.path)
    assert r.code == entry.expected, r.err
    if entry.expected:
        assert r.out == ""
        assert r.err.count("\n") == 1 and r.err.startswith("avlocate: ") and str(entry.path) in r.err
    else:
        (result,) = [json.loads(r.out)] if r.out.lstrip().startswith("{") else json.loads(r.out)
        assert result["video"] == str(entry.path) and result["duration"] > 0


def test_sparse_2gb_file_fails_fast(corpus):
    path = corpus["sparse_2gb"].path
    assert path.stat().st_size == 2 * 1024**3
    started = time.monotonic()
    with pytest.raises(MediaError):
        probe(path)
    assert time.monotonic() - started < 5.0  # reading 2 GB would take far longer than the probe window
