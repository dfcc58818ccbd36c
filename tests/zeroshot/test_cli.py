"""`avlocate run --model zeroshot`: option checks and the offline failure, from the command line."""
import time


def test_zeroshot_options_need_the_zeroshot_model(cli, repo_root):
    r = cli("run", repo_root / "samples" / "demo1.mp4", "-q", "--labels", "dog")
    assert r.code == 2 and "--model zeroshot" in r.err and r.err.count("\n") == 1


def test_empty_label_list_is_a_usage_error(cli, repo_root):
    r = cli("run", repo_root / "samples" / "demo1.mp4", "-q", "--model", "zeroshot", "--labels", " ;  ; ")
    assert r.code == 2 and r.err.count("\n") == 1


def test_without_encoders_or_weights_it_fails_fast_in_one_line(cli, repo_root, tmp_path, monkeypatch):
    monkeypatch.setenv("AVLOCATE_HOME", str(tmp_path))
    monkeypatch.setenv("AVLOCATE_WEIGHTS", str(tmp_path))
    t0 = time.monotonic()
    r = cli("run", repo_root / "samples" / "demo1.mp4", "-q", "--model", "zeroshot", "--vocab", "ave")
    assert time.monotonic() - t0 < 30
    # 6: open_clip / laion_clap not installed (main test environment); 5: installed but no weights
    assert r.code in (5, 6), r.err
    assert r.err.count("\n") == 1 and "Traceback" not in r.err
    assert ("pip install" in r.err) if r.code == 6 else ("weights import" in r.err or "not found" in r.err)
