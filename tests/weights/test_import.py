"""`avlocate weights import`: official checkpoints become safetensors + a card, without pickle code."""
import json

import numpy as np
import torch
from safetensors.torch import load_file

from avlocate.heads.dense import UnavHead
from avlocate.heads.dense.config import UnavConfig


def _classes(tmp_path, n):
    p = tmp_path / "classes.txt"
    p.write_text("# output order\n" + "\n".join(f"event {i}" for i in range(n)) + "\n")
    return p


def test_import_official_unav_checkpoint(cli, tmp_path, reference_dir):
    ref = reference_dir / "dense" / "unav" / "small"
    official = torch.load(ref / "state_dict.pt", weights_only=True)
    # The shape train.py writes: DataParallel keys, EMA weights next to the raw ones.
    ckpt = {"epoch": 3, "state_dict": {f"module.{k}": v * 0 for k, v in official.items()},
            "state_dict_ema": {f"module.{k}": v for k, v in official.items()}}
    torch.save(ckpt, tmp_path / "epoch_003.pth.tar")
    config = tmp_path / "config.json"
    config.write_text((ref / "config.json").read_text())
    n = json.loads(config.read_text())["config"]["model"]["num_classes"]
    r = cli("weights", "import", tmp_path / "epoch_003.pth.tar", "--from", "official-unav", "--name", "my-unav",
            "--classes", _classes(tmp_path, n), "--config", config, "--out", tmp_path / "w")
    assert r.code == 0, r.err
    card = json.loads((tmp_path / "w" / "my-unav.json").read_text())
    assert card["head"] == "unav" and len(card["classes"]) == n and card["decode"]["kind"] == "dense"
    official_test = json.loads(config.read_text())["config"]["model"]["test_cfg"]
    assert card["decode"]["nms_sigma"] == official_test["nms_sigma"]
    assert card["decode"]["max_seg_num"] == official_test["max_seg_num"]
    meta = json.loads(config.read_text())["config"]["dataset"]
    assert card["feature_protocol"]["fps"] == meta["default_fps"] and card["feature_protocol"]["stride"] == meta["feat_stride"]
    state = load_file(str(tmp_path / "w" / "my-unav.safetensors"))
    head = UnavHead(UnavConfig(**card["head_config"]))
    head.load_state_dict(state, strict=True)
    head.eval()
    # the imported weights reproduce the official outputs of case c1 (EMA weights were taken)
    z = np.load(ref / "cases.npz")
    with torch.no_grad():
        out = head(torch.from_numpy(z["c1_batched_visual"]), torch.from_numpy(z["c1_batched_audio"]),
                   torch.from_numpy(z["c1_batched_mask"]))
    torch.testing.assert_close(out.logits[0], torch.from_numpy(z["c1_cls_logits_l0"]), atol=2e-5, rtol=0)


def test_import_refuses_wrong_class_count_and_pickled_code(cli, tmp_path, reference_dir):
    ref = reference_dir / "dense" / "unav" / "small"
    config = tmp_path / "config.json"
    config.write_text((ref / "config.json").read_text())
    r = cli("weights", "import", ref / "state_dict.pt", "--from", "official-unav", "--name", "x",
            "--classes", _classes(tmp_path, 3), "--config", config, "--out", tmp_path / "w")
    assert r.code == 5 and "classes" in r.err and r.err.count("\n") == 1

    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    torch.save({"state_dict": Payload()}, tmp_path / "evil.pth")
    r = cli("weights", "import", tmp_path / "evil.pth", "--from", "official-unav", "--name", "x",
            "--classes", _classes(tmp_path, 10), "--out", tmp_path / "w")
    assert r.code == 5 and r.err.count("\n") == 1
    assert not marker.exists()


def test_import_official_vscg_state_dict(cli, tmp_path, reference_dir):
    """VSCG cards list the 28 event classes; background is the head's extra last output."""
    sd = {k: v.float() for k, v in torch.load(reference_dir / "vscg" / "fully" / "state_dict.pt", weights_only=True).items()}
    torch.save(sd, tmp_path / "vscg_fully.pt")
    r = cli("weights", "import", tmp_path / "vscg_fully.pt", "--from", "official-vscg", "--name", "my-vscg",
            "--classes", _classes(tmp_path, 28), "--out", tmp_path / "w")
    assert r.code == 0, r.err
    card = json.loads((tmp_path / "w" / "my-vscg.json").read_text())
    assert card["head"] == "vscg" and len(card["classes"]) == 28 and card["decode"]["kind"] == "segments"
    r = cli("weights", "import", tmp_path / "vscg_fully.pt", "--from", "official-vscg", "--name", "x",
            "--classes", _classes(tmp_path, 29), "--out", tmp_path / "w2")
    assert r.code == 5 and "28 event classes" in r.err
