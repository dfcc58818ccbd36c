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


def test_zs_method_is_checked_and_needs_the_zeroshot_model(cli, repo_root, tmp_path, monkeypatch):
    monkeypatch.setenv("AVLOCATE_HOME", str(tmp_path))
    monkeypatch.setenv("AVLOCATE_OFFLINE", "1")
    demo = repo_root / "samples" / "demo1.mp4"
    r = cli("run", demo, "-q", "--model", "zeroshot", "--vocab", "ave", "--zs-method", "best")
    assert r.code == 2 and "--zs-method" in r.err and r.err.count("\n") == 1
    r = cli("run", demo, "-q", "--zs-method", "av2a")
    assert r.code == 2 and "--model zeroshot" in r.err and r.err.count("\n") == 1
    r = cli("run", demo, "-q", "--model", "zeroshot", "--labels", "dog", "--zs-method", "av2a")
    assert r.code == 2 and "at least 2 labels" in r.err
    # the default for AVE's 28 names is av2a: its CLIP is OpenAI's ViT-B/32 (or the missing library)
    r = cli("run", demo, "-q", "--model", "zeroshot", "--vocab", "ave")
    assert r.code in (5, 6) and r.err.count("\n") == 1
    assert "pip install" in r.err if r.code == 6 else "clip_ViT-B-32-quickgelu_openai.safetensors" in r.err
