"""The papers' numbers printed beside a trained model's are the papers' own: each one is in the
paper's text (../shared/papers/), in the row the table names."""
from __future__ import annotations

from pathlib import Path

import pytest

from avlocate.training.from_dataset import PAPER, comparison_table

PAPERS = Path(__file__).resolve().parents[2].parent / "shared" / "papers"
FILES = {"esgnet": "esgnet_dave_unav100.txt", "unav": "ccnet_dave_unav100.txt", "ccnet": "ccnet_dave_unav100.txt",
         "vscg": "vscg_ave.txt", "vscg-weakly": "vscg_ave.txt", "avsgn": "avsgn_ave_clip_clap.txt",
         "avsgn-weakly": "avsgn_ave_clip_clap.txt"}


@pytest.mark.parametrize("key", sorted(PAPER))
def test_datasets_paper_numbers_are_in_the_papers(key):
    if not PAPERS.is_dir():
        pytest.skip(f"{PAPERS} not present")
    text = (PAPERS / FILES[key[0]]).read_text(encoding="utf-8")
    entry = PAPER[key]
    if "accuracy" in entry:
        assert f"{entry['accuracy']:.1f}" in text
        return
    row = [f"{entry['mAP'][t]:.1f}" for t in (0.5, 0.6, 0.7, 0.8, 0.9)] + [f"{entry['avg']:.1f}"]
    assert any(line.split()[-6:] == row for line in text.splitlines() if line.strip()), row


def test_datasets_comparison_table_lists_every_tiou():
    measured = {"mAP_per_tiou": [0.9 - 0.05 * i for i in range(9)], "average_mAP": 0.7}
    table = comparison_table(measured, PAPER[("esgnet", "i3d-vggish")])
    lines = table.splitlines()
    assert [line.split()[1] for line in lines[1:10]] == [f"{t / 10:.1f}" for t in range(1, 10)]
    assert lines[5].split() == ["tIoU", "0.5", "70.00", "53.50"] and lines[1].split()[-1] == "-"
    assert lines[11].split() == ["avg", "0.1:0.9", "70.00", "49.90"]
    assert "ESG-Net paper, Table I" in lines[-1]
    acc = comparison_table({"accuracy": 61.25}, PAPER[("vscg", "vgg19-vggish")])
    assert "61.25" in acc and "79.70" in acc
