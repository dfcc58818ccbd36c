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
    rows = bench.main(["--quick", "--heads", "unav,esgnet", "--settings", "onepeace"])
    printed = capsys.readouterr().out
    assert [r["head"] for r in rows] == ["unav", "esgnet"] and "GFLOPs" in printed
    unav = rows[0]
    ref = summary["unav"]["onepeace"]
    assert unav["params"] == ref["total_params"]
    assert abs(unav["gflops"] - ref["forward_GFLOPs_counted"]) < 1e-6
    esg = rows[1]
    assert abs(esg["params"] - 86.13e6) / 86.13e6 < 0.02  # ESG-Net paper, Table VII
    assert esg["gflops"] > 0
