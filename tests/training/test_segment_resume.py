"""train-segment resumes after an interruption and ends with the weights of an uninterrupted run."""
import pytest
import torch

pytest.importorskip("h5py")

from avlocate.datasets.ave import make_synthetic_ave  # noqa: E402
from avlocate.training.checkpoint import state_path  # noqa: E402
from avlocate.training.segment import SegmentTrainConfig, train_segment  # noqa: E402


class Stop(KeyboardInterrupt):
    """Ctrl-C, raised where the loop reports its first epoch (after that epoch's state is written)."""


def _weights(result):
    from safetensors.torch import load_file

    return load_file(str(result.weights_path))


def test_interrupted_segment_training_resumes_to_the_same_weights(tmp_path):
    torch.set_num_threads(1)
    data = make_synthetic_ave(tmp_path / "data", "vgg19-vggish", num_clips=16, seed=0)
    cfg = SegmentTrainConfig(epochs=3, batch_size=6, lr=3e-4)  # 2 steps per epoch (12 train clips)
    whole = train_segment(data, "vscg", tmp_path / "whole", name="m", config=cfg)

    def stop_after_first(msg: str) -> None:
        if msg.startswith("epoch 1/"):
            raise Stop()

    out = tmp_path / "cut"
    with pytest.raises(Stop):
        train_segment(data, "vscg", out, name="m", config=cfg, log=stop_after_first)
    assert state_path(out, "m").is_file() and not (out / "m.safetensors").exists()
    lines: list[str] = []
    resumed = train_segment(data, "vscg", out, name="m", config=cfg, log=lines.append)
    assert any("resuming" in line and "after epoch 1/3" in line for line in lines)
    assert resumed.step_losses == whole.step_losses and resumed.losses == whole.losses
    assert resumed.val_accuracy == whole.val_accuracy
    a, b = _weights(whole), _weights(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not state_path(out, "m").exists()
