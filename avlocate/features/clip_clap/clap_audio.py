"""LAION-CLAP (HTS-AT audio tower + RoBERTa text tower): audio windows -> 512-d embeddings.

We use laion_clap's own model class and its own audio preprocessing
(``training.data.get_audio_features``), but not its ``CLAP_Module`` wrapper, because that
wrapper reaches the network twice: it builds the text branch with
``RobertaModel.from_pretrained('roberta-base')`` and the tokenizer with
``RobertaTokenizer.from_pretrained('roberta-base')`` (offline: a silently empty tokenizer).
Instead, while the model is constructed, the text branch is built from roberta-base's
architecture (:data:`ROBERTA_BASE`, the values of its public config) with random init; the real
text-branch weights then come from the CLAP checkpoint itself, whose state dict holds them
(``text_branch.*``). The tokenizer is read from local files (``weights.locate_clap_tokenizer``).

Audio protocol (laion_clap's ``get_audio_embedding_from_data`` for inputs of at most 10 s):
48 kHz mono; the waveform is quantised to 16 bit and back, as LAION's examples do before
embedding (their training audio was 16-bit); a window shorter than 10 s is *repeat-padded*
(repeated ``floor(480000 / n)`` times, then zero-padded to 480000 samples), so a 1-s segment is
seen as ten copies of itself. Windows never exceed 10 s here, so laion_clap's random crop of
longer inputs never happens and embeddings are deterministic.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import torch

from ...errors import ModelError, WeightsError
from ...weights.checkpoint import load_into
from . import _deps
from .weights import read_clap_state

SAMPLE_RATE = 48_000  # CLAP's audio_cfg.sample_rate
MAX_SAMPLES = 480_000  # 10 s: CLAP's clip_samples
EMBED_DIM = 512  # CLAP's joint embedding size
TEXT_CONTEXT = 77  # tokens per prompt, as laion_clap's tokenizer call pads/truncates

#: roberta-base's architecture (its public config.json): the text branch of every LAION-CLAP
#: checkpoint that uses ``tmodel='roberta'``.
ROBERTA_BASE: dict[str, Any] = dict(
    vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
    intermediate_size=3072, hidden_act="gelu", hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1, max_position_embeddings=514, type_vocab_size=1,
    initializer_range=0.02, layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2,
)

_build_lock = threading.Lock()


@contextmanager
def _local_roberta(clap_class: type, text_config: Mapping[str, Any]) -> Iterator[None]:
    """While laion_clap's ``CLAP.__init__`` runs, make its ``RobertaModel.from_pretrained`` build
    the architecture from ``text_config`` instead of downloading roberta-base."""
    from transformers import RobertaConfig, RobertaModel

    class _OfflineRoberta:
        @staticmethod
        def from_pretrained(*_args: Any, **_kwargs: Any) -> torch.nn.Module:
            return RobertaModel(RobertaConfig(**text_config))

    namespace = clap_class.__init__.__globals__
    original = namespace["RobertaModel"]
    namespace["RobertaModel"] = _OfflineRoberta
    try:
        yield
    finally:
        namespace["RobertaModel"] = original


def build_clap_model(amodel: str = "HTSAT-tiny", enable_fusion: bool = False,
                     text_config: Mapping[str, Any] | None = None) -> tuple[torch.nn.Module, dict]:
    """laion_clap's CLAP model (random init, no network) and its model config."""
    laion_clap = _deps.import_laion_clap()
    create_model = laion_clap.hook.create_model
    clap_class = create_model.__globals__["CLAP"]
    known = create_model.__globals__["_MODEL_CONFIGS"]
    if amodel not in known:
        audio_names = sorted(n for n in known if n.startswith(("HTSAT", "PANN")))
        raise ModelError(f"unknown CLAP audio model {amodel!r}; laion_clap knows {', '.join(audio_names)}")
    with _build_lock, _local_roberta(clap_class, dict(text_config or ROBERTA_BASE)):
        kwargs = {"fusion_type": "aff_2d"} if enable_fusion else {}
        model, model_cfg = create_model(amodel, "roberta", precision="fp32", device="cpu",
                                        enable_fusion=enable_fusion, **kwargs)
    return model.eval(), model_cfg


def load_tokenizer(folder: Path, text_vocab: int) -> Any:
    """roberta-base's byte-level BPE tokenizer from ``vocab.json`` + ``merges.txt`` in ``folder``.

    transformers returns a tokenizer with only its 5 special tokens, without an error, when the
    files are unusable; every prompt would then embed the same. Such a tokenizer is refused."""
    _deps.force_offline()
    from transformers import RobertaTokenizer

    try:
        tok = RobertaTokenizer.from_pretrained(str(folder), local_files_only=True)
    except Exception as exc:
        raise WeightsError(f"CLAP tokenizer files in {folder} are unreadable ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    if len(tok) < 256:  # a byte-level BPE vocabulary has at least the 256 byte symbols
        raise WeightsError(f"CLAP tokenizer in {folder} has only {len(tok)} tokens: vocab.json/merges.txt "
                           f"are not roberta-base's")
    if len(tok) > text_vocab:
        raise WeightsError(f"CLAP tokenizer in {folder} has {len(tok)} tokens but the text branch only "
                           f"{text_vocab}: tokenizer and checkpoint do not belong together")
    return tok


def text_config_from_state(state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """roberta-base's architecture with the sizes a checkpoint's ``text_branch.*`` tensors show
    (vocabulary, positions, layers, feed-forward width), so any RoBERTa-shaped text branch loads;
    for LAION's public checkpoints this is exactly :data:`ROBERTA_BASE`. The hidden size must stay
    768: laion_clap's text projection is hard-wired to it."""
    cfg = dict(ROBERTA_BASE)
    p = "text_branch."
    shapes = {
        "vocab_size": (p + "embeddings.word_embeddings.weight", 0),
        "max_position_embeddings": (p + "embeddings.position_embeddings.weight", 0),
        "type_vocab_size": (p + "embeddings.token_type_embeddings.weight", 0),
        "intermediate_size": (p + "encoder.layer.0.intermediate.dense.weight", 0),
    }
    for key, (name, dim) in shapes.items():
        if name in state:
            cfg[key] = int(state[name].shape[dim])
    layers = {k.split(".")[3] for k in state if k.startswith(p + "encoder.layer.")}
    if layers:
        cfg["num_hidden_layers"] = len(layers)
    return cfg


_AUDIO_KEYS = ("waveform", "longer", "mel_fusion")  # what get_audio_features puts in a window's dict


class ClapAudioTower(torch.nn.Module):
    """CLAP's audio embedding as a batch-first module: ``forward(waveform, longer[, mel_fusion])``
    with the per-window dict entries stacked along dim 0. It runs what laion_clap's
    ``get_audio_embedding`` runs on a list of dicts (stack, audio branch, projection, L2 norm), so
    a coalescer can batch windows of several videos into one forward (``--videos-in-flight``)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *stacked: torch.Tensor) -> torch.Tensor:
        inputs = dict(zip(_AUDIO_KEYS, stacked))
        device = next(self.model.parameters()).device
        embeds = self.model.encode_audio({k: v.to(device) for k, v in inputs.items()}, device=device)["embedding"]
        return torch.nn.functional.normalize(self.model.audio_projection(embeds), dim=-1)


class ClapEncoder:
    """Audio and text embeddings of one LAION-CLAP model (eval mode, no gradients)."""

    def __init__(self, model: torch.nn.Module, model_cfg: dict, amodel: str, enable_fusion: bool,
                 weights_id: str = "random-init", device: str | torch.device = "cpu",
                 tokenizer_dir: Path | None = None, quantize: bool = True) -> None:
        laion_clap = _deps.import_laion_clap()
        self._get_audio_features = laion_clap.training.data.get_audio_features
        self.model = model.to(torch.device(device)).eval()
        self.model_cfg = model_cfg
        self.amodel = amodel
        self.enable_fusion = enable_fusion
        self.weights_id = weights_id
        self.device = torch.device(device)
        self.tokenizer_dir = tokenizer_dir
        self.quantize = quantize
        self._tokenizer = None
        self.audio_tower: torch.nn.Module = ClapAudioTower(self.model)  # replaced by a coalescer to share it

    @classmethod
    def build(cls, weights: str | Path | Mapping[str, torch.Tensor] | None, amodel: str = "HTSAT-tiny",
              enable_fusion: bool = False, text_config: Mapping[str, Any] | None = None,
              weights_id: str | None = None, device: str | torch.device = "cpu",
              tokenizer_dir: Path | None = None) -> "ClapEncoder":
        """CLAP with ``weights`` (file or state dict; ``None`` keeps the random init, for tests).
        Strict key check, so a fusion checkpoint in a non-fusion model fails in one line."""
        state = None
        if weights is not None:
            state = read_clap_state(Path(weights)) if isinstance(weights, (str, Path)) else dict(weights)
            text_config = text_config or text_config_from_state(state)
        model, cfg = build_clap_model(amodel, enable_fusion, text_config)
        if state is not None:
            what = f"CLAP {amodel}{' (fusion)' if enable_fusion else ''}"
            load_into(model, state, what)
            weights_id = weights_id or (Path(weights).name if isinstance(weights, (str, Path)) else "state-dict")
        return cls(model, cfg, amodel, enable_fusion, weights_id or "random-init", device, tokenizer_dir)

    @property
    def dim(self) -> int:
        return EMBED_DIM

    @property
    def logit_scale(self) -> float:
        """CLAP's learned inverse temperature for audio-text similarities (``logit_scale_a``)."""
        return float(self.model.logit_scale_a.detach().exp())

    # -- audio ------------------------------------------------------------------------------------
    def _prepare(self, wave: torch.Tensor) -> dict[str, torch.Tensor]:
        if wave.numel() > MAX_SAMPLES:
            raise ValueError(f"CLAP windows must be at most 10 s ({MAX_SAMPLES} samples), got {wave.numel()}")
        if wave.numel() == 0:
            raise ValueError("CLAP window is empty")
        x = wave.detach().float().cpu().clamp(-1.0, 1.0)
        if self.quantize:
            x = (x * 32767.0).to(torch.int16).float() / 32767.0  # same rounding as LAION's int16 helpers
        return self._get_audio_features(
            {}, x, MAX_SAMPLES, data_truncating="fusion" if self.enable_fusion else "rand_trunc",
            data_filling="repeatpad", audio_cfg=self.model_cfg["audio_cfg"], require_grad=False,
        )

    def encode_audio(self, windows: torch.Tensor | Sequence[torch.Tensor], batch_size: int = 8) -> torch.Tensor:
        """Windows of 48 kHz mono audio (each <= 10 s) -> (n, 512) L2-normalised embeddings."""
        items = list(windows)
        out = []
        with torch.inference_mode():
            for start in range(0, len(items), batch_size):
                batch = [self._prepare(w) for w in items[start:start + batch_size]]
                keys = [k for k in _AUDIO_KEYS if k in batch[0]]
                if set(batch[0]) != set(keys) or keys[:2] != ["waveform", "longer"]:
                    raise RuntimeError(f"laion_clap window keys {sorted(batch[0])} are not the expected {_AUDIO_KEYS}")
                stacked = [torch.stack([item[k] for item in batch]) for k in keys]
                out.append(self.audio_tower(*stacked).float().cpu())
        return torch.cat(out) if out else torch.zeros(0, EMBED_DIM)

    # -- text -------------------------------------------------------------------------------------
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from .weights import locate_clap_tokenizer

            folder = locate_clap_tokenizer(self.tokenizer_dir)
            vocab = int(self.model.text_branch.config.vocab_size)
            self._tokenizer = load_tokenizer(folder, vocab)
        return self._tokenizer

    def encode_text(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """(K, 512) L2-normalised text embeddings (laion_clap's padding: 77 tokens, truncated)."""
        if isinstance(texts, str) or not texts:
            raise ValueError("encode_text needs a non-empty list of strings")
        tok = self.tokenizer()
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                enc = tok(list(texts[start:start + batch_size]), padding="max_length", truncation=True,
                          max_length=TEXT_CONTEXT, return_tensors="pt")
                data = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
                out.append(self.model.get_text_embedding(data).float().cpu())
        return torch.cat(out)
