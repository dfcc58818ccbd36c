"""The progress of a folder extraction: a bar on a terminal, else a line every twentieth of the
videos (an hours-long AVE extraction in a log still shows that it moves); a failure always said."""
from __future__ import annotations

from avlocate.extraction.progress import ExtractProgress


def _feed(progress: ExtractProgress, statuses: list[str]) -> None:
    with progress:
        for n, status in enumerate(statuses):
            record = {"video": f"v{n}.mp4", "error": "not a video", "code": 4} if status == "failed" else {}
            progress.done(status, record)


def test_without_a_terminal_a_line_every_twentieth_and_at_the_end():
    lines: list[str] = []
    statuses = ["skipped"] * 5 + ["done"] * 36 + ["failed"] + ["done"] * 3  # 45 videos: a line every 3
    _feed(ExtractProgress(len(statuses), "extract (x)", lines.append, enabled=False), statuses)
    counts = [line for line in lines if line.startswith("extract (x): ")]
    assert len(counts) == 15
    assert counts[0] == "extract (x): 3/45 videos (0 extracted, 3 already there, 0 failed)"
    assert counts[-1] == "extract (x): 45/45 videos (39 extracted, 5 already there, 1 failed)"
    assert [line for line in lines if line.startswith("failed")] == ["failed: v41.mp4: not a video"]


def test_with_the_bar_only_failures_are_lines():
    lines: list[str] = []
    _feed(ExtractProgress(4, "extract (x)", lines.append, enabled=True), ["done", "failed", "skipped", "done"])
    assert lines == ["failed: v1.mp4: not a video"]
