"""benchmarks/heads.py --quick: sizes and FLOPs equal the official counts of the reference summary."""
from __future__ import annotations

import importlib.util
import json


def test_quick_benchmark_matches_reference_counts(repo_root, reference_dir, monkeypatch, capsys):
    monkeypatch.setenv("AVLOCATE_REFERENCE_DIR", str(reference_dir))
    spec = importlib.util.spec_from_file_location("bench_heads", repo_root / "benchmarks" / "heads.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    summary = json.loads((reference_dir / "dense" / "summary.json").read_text())["models"]
    rows = bench.main(["--quick", "--heads", "unav,esgnet", "--settings", "onepeace",
                       "--segment-heads", "vscg,vscg-weakly,avsgn"])
    printed = capsys.readouterr().out
    assert [r["head"] for r in rows] == ["unav", "esgnet", "vscg", "vscg-weakly", "avsgn"] and "GFLOPs" in printed
    unav = rows[0]
    ref = summary["unav"]["onepeace"]
    assert unav["params"] == ref["total_params"]
    assert abs(unav["gflops"] - ref["forward_GFLOPs_counted"]) < 1e-6
    esg = rows[1]
    assert abs(esg["params"] - 86.13e6) / 86.13e6 < 0.02  # ESG-Net paper, Table VII
    assert esg["gflops"] > 0
    vscg = rows[2]
    # The paper's 2.6 M counts the official module's trainable parameters, including layers its
    # forward never reaches (which avlocate leaves out): that is the number held to within 2 %.
    assert abs(vscg["paper_convention_params"] - 2.6e6) / 2.6e6 < 0.02
    assert vscg["params"] < vscg["paper_convention_params"]
    for row in rows[2:]:
        assert row["cpu_ms"] > 0 and row["params"] > 0
