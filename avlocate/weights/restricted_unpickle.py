"""Read a whole pickled PyTorch module (``torch.save(model)``) without executing any code.

Official VSCG checkpoints are pickled ``nn.Module`` objects, which ``torch.load(weights_only=True)``
refuses and a normal unpickle would only read by importing (and running) the official classes.
This unpickler instead resolves every global through an allowlist:

* tensor plumbing: storage types (``torch.FloatStorage`` ...), ``torch._utils._rebuild_tensor_v2``
  / ``_rebuild_parameter`` (re-implemented here, never called from torch), ``torch.Size``;
* plain containers: ``collections.OrderedDict``, ``set``, ``frozenset``;
* module classes: known ``torch.nn`` layers and any class of the official modules
  (``vscgfully_model``, ``vscgweakly_model``). These become *inert stand-ins*: they record the
  pickled ``__dict__`` and nothing else; no constructor, ``__setstate__`` or import of the real
  class ever runs.

Anything else (``os.system``, ``builtins.eval``, ``subprocess.Popen`` ...) raises a one-line
:class:`WeightsError` naming the forbidden global, before anything is called. The pure-Python unpickler is
used so that BUILD (setting state) can be limited to stand-ins. The stand-ins are then walked like
``Module.state_dict()`` (own parameters, persistent buffers, children in order).
Only the zip format (torch >= 1.6) is read.
"""
from __future__ import annotations

import io
import pickle
import re
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from ..errors import WeightsError

OFFICIAL_VSCG_MODULES: tuple[str, ...] = ("vscgfully_model", "vscgweakly_model")

_STORAGE_DTYPES: dict[str, torch.dtype] = {
    "FloatStorage": torch.float32, "HalfStorage": torch.float16, "DoubleStorage": torch.float64,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool, "UntypedStorage": torch.uint8,
}
_DTYPES = {n: getattr(torch, n) for n in ("float32", "float16", "float64", "bfloat16", "int64", "int32",
                                             "int16", "int8", "uint8", "bool")}
#: torch.nn layer classes whose pickled state we accept (as inert stand-ins).
TORCH_NN_CLASSES: frozenset[str] = frozenset({
    "Linear", "Bilinear", "Identity", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
    "LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell", "LayerNorm", "GroupNorm", "BatchNorm1d",
    "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "Dropout", "Dropout1d", "Dropout2d", "ReLU", "LeakyReLU",
    "PReLU", "ELU", "GELU", "SiLU", "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "MaxPool1d", "MaxPool2d",
    "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d", "Sequential", "ModuleList", "ModuleDict", "Embedding", "Flatten",
    "MultiheadAttention", "NonDynamicallyQuantizableLinear", "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss",
    "MSELoss",
})
_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
#: packages whose classes are never taken for a checkpoint's own code
_NEVER_ADOPTED = frozenset({"torch", "numpy", "avlocate", "builtins", "__builtin__", "requests", "gdown", "pickle",
                            "safetensors", "av", "typer", "rich", "filelock", "huggingface_hub"})


class ModuleStandIn:
    """Inert placeholder for a pickled module object: keeps its state, runs nothing."""

    qualname: str = "?"
    pickled_state: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # REDUCE on a class: record, do nothing
        self.pickled_args = args

    def __setstate__(self, state: Any) -> None:
        self.pickled_state = state

    def __repr__(self) -> str:
        return f"<stand-in for {self.qualname}>"


_STAND_INS: dict[str, type] = {}


def _stand_in(module: str, name: str) -> type:
    key = f"{module}.{name}"
    if key not in _STAND_INS:
        _STAND_INS[key] = type(name, (ModuleStandIn,), {"qualname": key, "__module__": __name__})
    return _STAND_INS[key]


class _StorageType:
    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *rest: Any) -> torch.Tensor:
    """Safe equivalent of ``torch._utils._rebuild_tensor_v2`` (hooks must be empty)."""
    if not isinstance(storage, torch.Tensor) or storage.dim() != 1:
        raise WeightsError("malformed tensor record in the checkpoint (storage is not a storage)")
    for extra in rest[1:2]:  # backward_hooks
        if extra:
            raise WeightsError("the checkpoint attaches backward hooks to a tensor; refused")
    try:
        shape, strides = tuple(int(s) for s in size), tuple(int(s) for s in stride)
        return torch.as_strided(storage, shape, strides, int(offset)).clone()
    except (RuntimeError, TypeError, ValueError) as exc:
        raise WeightsError(f"malformed tensor record in the checkpoint ({str(exc).splitlines()[0]})") from None


def _rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None, *rest: Any) -> torch.Tensor:
    if not isinstance(data, torch.Tensor):
        raise WeightsError("malformed parameter record in the checkpoint")
    if backward_hooks:
        raise WeightsError("the checkpoint attaches backward hooks to a parameter; refused")
    return data  # a plain tensor is all a state dict needs


def _size(*args: Any) -> tuple[int, ...]:
    return tuple(int(x) for x in (args[0] if args else ()))


_SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set, ("__builtin__", "set"): set,
    ("builtins", "frozenset"): frozenset, ("__builtin__", "frozenset"): frozenset,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch", "Size"): _size,
    **{("torch", n): _StorageType(d) for n, d in _STORAGE_DTYPES.items()},
    ("torch.storage", "UntypedStorage"): _StorageType(torch.uint8),
    **{("torch", n): d for n, d in _DTYPES.items()},
}


class _RestrictedUnpickler(pickle._Unpickler):  # pure-Python: its opcode table can be restricted
    dispatch = dict(pickle._Unpickler.dispatch)

    def _load_build(self) -> None:
        # BUILD sets state on the object below it. Only stand-ins may receive state: on anything
        # else (our own rebuild functions, containers, tensors) it could mutate live objects.
        state = self.stack.pop()
        inst = self.stack[-1]
        if not isinstance(inst, ModuleStandIn):
            raise WeightsError(f"refused to load {self._source}: it sets state on a {type(inst).__name__}")
        inst.__setstate__(state)

    dispatch[pickle.BUILD[0]] = _load_build

    def __init__(
        self, data: bytes, archive: zipfile.ZipFile, prefix: str, allowed_modules: tuple[str, ...], source: str,
        root_class: str | None = None,
    ) -> None:
        super().__init__(io.BytesIO(data))
        self._archive, self._prefix, self._allowed, self._source = archive, prefix, allowed_modules, source
        self._root_class = root_class
        self._adopted: set[str] = set()
        self._storages: dict[str, torch.Tensor] = {}

    def find_class(self, module: str, name: str) -> Any:  # the only door to callables
        if (module, name) in _SAFE_GLOBALS:
            return _SAFE_GLOBALS[(module, name)]
        if _IDENT.match(name):
            if module.startswith("torch.nn.modules.") and name in TORCH_NN_CLASSES:
                return _stand_in(module, name)
            if module in self._allowed or module in self._adopted:
                return _stand_in(module, name)
            if name == self._root_class and self._adoptable(module):
                # The official class under another (historical) module path: its module is
                # accepted for the rest of this file, as inert stand-ins; the caller then accepts
                # the result only if its state has the official keys and shapes.
                self._adopted.add(module)
                return _stand_in(module, name)
        raise WeightsError(
            f"refused to load {self._source}: it needs the global {module}.{name}, which is not a tensor, "
            f"a container or a known module class (unpickling it could execute code)"
        )

    @staticmethod
    def _adoptable(module: str) -> bool:
        """A dotted name of the checkpoint's own code: not the standard library, torch or numpy."""
        import sys

        top = module.split(".")[0]
        return (all(_IDENT.match(part) for part in module.split("."))
                and top not in sys.stdlib_module_names and top not in _NEVER_ADOPTED)

    def persistent_load(self, pid: Any) -> torch.Tensor:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise WeightsError(f"refused to load {self._source}: unknown persistent record {str(pid)[:60]!r}")
        dtype, key, numel = pid[1].dtype, str(pid[2]), int(pid[4])
        if key not in self._storages:
            if not _IDENT.match("k" + key):
                raise WeightsError(f"refused to load {self._source}: bad storage name {key!r}")
            try:
                raw = self._archive.read(f"{self._prefix}data/{key}")
            except KeyError:
                raise WeightsError(f"{self._source} is truncated: storage {key} is missing") from None
            itemsize = torch.empty((), dtype=dtype).element_size()
            if len(raw) < numel * itemsize:
                raise WeightsError(f"{self._source} is truncated: storage {key} is too short")
            data = bytearray(raw[: numel * itemsize])
            self._storages[key] = torch.frombuffer(data, dtype=dtype) if numel else torch.empty(0, dtype=dtype)
        return self._storages[key]


def restricted_load(path: str | Path, allowed_modules: tuple[str, ...] = OFFICIAL_VSCG_MODULES,
                    root_class: str | None = None) -> Any:
    """Unpickle a torch zip checkpoint; module objects come back as :class:`ModuleStandIn`."""
    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise WeightsError(f"{path} is not a PyTorch zip checkpoint (torch >= 1.6 format); cannot read it safely")
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise WeightsError(f"{path} is not a PyTorch checkpoint (expected one <name>/data.pkl record)")
        prefix = pickles[0][: -len("data.pkl")]
        if prefix + "byteorder" in archive.namelist() and archive.read(prefix + "byteorder").strip() != b"little":
            raise WeightsError(f"{path} was saved on a big-endian machine; not supported")
        unpickler = _RestrictedUnpickler(archive.read(pickles[0]), archive, prefix, allowed_modules, str(path),
                                         root_class)
        try:
            return unpickler.load()
        except WeightsError:
            raise
        except Exception as exc:  # corrupt pickle stream
            detail = str(exc).splitlines()[0] if str(exc) else ""
            raise WeightsError(f"{path} is corrupt ({type(exc).__name__}: {detail})") from None


#: deepest module nesting accepted (real networks nest a few levels; 20,000 exhausted the stack).
MAX_MODULE_DEPTH = 64
#: most modules in one checkpoint (the official VSCG has a few dozen).
MAX_MODULES = 100_000


def module_state_dict(obj: Any, prefix: str = "") -> "OrderedDict[str, torch.Tensor]":
    """Walk stand-ins like ``nn.Module.state_dict()``: own parameters, persistent buffers, children
    (in that order, depth first). Iterative, with bounded depth and module count: a hostile
    checkpoint nesting modules 20,000 deep is one line, not a RecursionError."""
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    todo: list[tuple[Any, str, int]] = [(obj, prefix, 0)]
    seen = 0
    while todo:
        node, where, depth = todo.pop()
        seen += 1
        if depth > MAX_MODULE_DEPTH or seen > MAX_MODULES:
            raise WeightsError(f"checkpoint nests modules deeper than {MAX_MODULE_DEPTH} levels or holds more than "
                               f"{MAX_MODULES} modules; not a checkpoint avlocate reads")
        if not isinstance(node, ModuleStandIn) or not isinstance(node.pickled_state, dict):
            raise WeightsError(f"checkpoint entry {where or '<root>'} is not a pickled module")
        state = node.pickled_state
        skip = state.get("_non_persistent_buffers_set") or set()
        for group in ("_parameters", "_buffers"):
            for name, value in (state.get(group) or {}).items():
                if value is None or (group == "_buffers" and name in skip):
                    continue
                if not isinstance(value, torch.Tensor):
                    raise WeightsError(f"checkpoint entry {where}{name} is not a tensor")
                out[where + name] = value.detach().clone()
        children = [(child, f"{where}{name}.", depth + 1) for name, child in (state.get("_modules") or {}).items()
                    if child is not None]
        todo.extend(reversed(children))  # popped in their order: keys come out as state_dict() lists them
    return out


def load_module_state_dict(
    path: str | Path, allowed_modules: tuple[str, ...] = OFFICIAL_VSCG_MODULES, root_class: str | None = None
) -> "OrderedDict[str, torch.Tensor]":
    """State dict of a whole pickled module (or a pickled state dict) read without running code.

    ``root_class``: also accept that class name under any module path of the checkpoint's own
    code (an earlier layout of the official repository), provided the pickle's root object is
    that class; the caller must then check the state's keys and shapes."""
    obj = restricted_load(path, allowed_modules, root_class)
    if root_class is not None and isinstance(obj, ModuleStandIn):
        module = obj.qualname.rpartition(".")[0]
        if module not in allowed_modules and not obj.qualname.endswith("." + root_class):
            raise WeightsError(f"refused to load {path}: its root object is {obj.qualname}, not {root_class}")
    if isinstance(obj, dict) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        return OrderedDict(obj)
    return module_state_dict(obj)
