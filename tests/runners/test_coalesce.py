"""Coalescer: forwards requested by several threads at once run as one batch, rows go back right."""
from __future__ import annotations

import threading

import pytest
import torch
from torch import nn

from avlocate.runners.coalesce import CoalescedModule, Coalescer, split_rows


class _Recorder(nn.Module):
    """y = x @ W + row-wise feature; records the batch size of every forward."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(4, 3, generator=torch.Generator().manual_seed(0)))
        self.batches: list[int] = []
        self.image_size = 7  # an attribute callers may read through the wrapper

    def forward(self, x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        self.batches.append(int(x.shape[0]))
        return (x @ self.weight) * scale


class _Live:
    """Callers that have not returned yet: the ``expected`` a coalescer waits for (like the
    videos in flight of a batch, whose count drops as each one finishes)."""

    def __init__(self) -> None:
        self.n = 0
        self.lock = threading.Lock()

    def __call__(self) -> int:
        return self.n


def _together(fn, inputs: list, live: _Live | None = None) -> list:  # noqa: ANN001
    """Call fn(input) from one thread per input, all released at once; results in input order."""
    barrier = threading.Barrier(len(inputs))
    out: list = [None] * len(inputs)
    live = live if live is not None else _Live()
    live.n = len(inputs)

    def work(i: int) -> None:
        barrier.wait()
        try:
            out[i] = fn(inputs[i])
        except Exception as exc:  # noqa: BLE001
            out[i] = exc
        finally:
            with live.lock:
                live.n -= 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive(), "a caller never returned"
    return out


def _inputs(rows: list[int], cols: int = 4) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [torch.randn(r, cols, generator=g) for r in rows]


def test_concurrent_calls_share_one_forward_and_get_their_own_rows() -> None:
    inner = _Recorder()
    co = Coalescer(inner, max_batch=64, max_wait_s=30.0, min_wait_s=30.0, expected=lambda: 4)
    xs = _inputs([2, 3, 1, 2])
    got = _together(lambda x: co(x, scale=2.0), xs)
    assert inner.batches == [8] and co.calls == 1 and co.rows == 8
    with torch.no_grad():
        for x, y in zip(xs, got):
            assert torch.allclose(y, (x @ inner.weight) * 2.0)


def test_incompatible_calls_run_apart() -> None:
    inner = _Recorder()
    live = _Live()
    co = Coalescer(lambda x: x.sum(dim=-1, keepdim=True) + x.shape[-1], max_wait_s=30.0, min_wait_s=30.0, expected=live)
    xs = [torch.ones(2, 4), torch.ones(1, 5), torch.ones(3, 4)]  # per-row shapes differ for the second
    got = _together(co, xs, live)
    assert co.calls == 2 and co.rows == 6
    assert [y.flatten().tolist() for y in got] == [[8.0, 8.0], [10.0], [8.0, 8.0, 8.0]]
    # keyword arguments are part of what must match
    live2 = _Live()
    co2 = Coalescer(inner, max_wait_s=30.0, min_wait_s=30.0, expected=live2)
    ys = _together(lambda a: co2(a[0], scale=a[1]), [(torch.ones(1, 4), 1.0), (torch.ones(1, 4), 3.0)], live2)
    assert co2.calls == 2 and torch.allclose(ys[1], 3.0 * ys[0])


def test_max_batch_splits_groups() -> None:
    inner = _Recorder()
    live = _Live()
    co = Coalescer(inner, max_batch=6, max_wait_s=30.0, min_wait_s=30.0, expected=live)
    xs = _inputs([3, 3, 3])
    got = _together(co, xs, live)
    assert sorted(inner.batches) == [3, 6] and co.calls == 2
    with torch.no_grad():
        assert all(torch.allclose(y, x @ inner.weight) for x, y in zip(xs, got))


def test_an_error_reaches_every_caller_of_the_group() -> None:
    def broken(x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("out of memory (test)")

    co = Coalescer(broken, max_wait_s=30.0, min_wait_s=30.0, expected=lambda: 2)
    got = _together(co, _inputs([1, 2]))
    assert all(isinstance(e, RuntimeError) and "out of memory" in str(e) for e in got)
    assert co.calls == 0


def test_a_lone_caller_does_not_wait_for_company() -> None:
    inner = _Recorder()
    co = Coalescer(inner, max_wait_s=3600.0, min_wait_s=3600.0, expected=lambda: 1)  # would hang the test if it waited
    [y] = _together(co, _inputs([5]))
    assert y.shape == (5, 3) and inner.batches == [5]


def test_list_outputs_are_split_per_caller() -> None:
    co = Coalescer(lambda a, b: [a + b, a - b], max_wait_s=30.0, min_wait_s=30.0, expected=lambda: 2)
    pairs = [(torch.full((2, 2), 1.0), torch.full((2, 2), 0.5)), (torch.full((1, 2), 4.0), torch.full((1, 2), 1.0))]
    got = _together(lambda p: co(*p), pairs)
    assert co.calls == 1
    assert [g[0].tolist() for g in got] == [[[1.5, 1.5], [1.5, 1.5]], [[5.0, 5.0]]]
    assert [g[1].tolist() for g in got] == [[[0.5, 0.5], [0.5, 0.5]], [[3.0, 3.0]]]
    with pytest.raises(ValueError, match="rows"):
        split_rows(torch.zeros(3, 1), [1, 1])


def test_coalesced_module_keeps_the_inner_module_visible() -> None:
    inner = _Recorder()
    wrapped = CoalescedModule(inner, max_wait_s=0.0)
    assert wrapped.image_size == 7  # read through to the wrapped module
    assert [p is q for p, q in zip(wrapped.parameters(), inner.parameters())] == [True]
    x = torch.randn(2, 4)
    with torch.no_grad():
        assert torch.allclose(wrapped(x), x @ inner.weight)
