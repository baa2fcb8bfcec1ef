"""Checks of values that live on a device, made without waiting for the device.

A training step on a GPU must not read anything back to the host: each read stalls the
pipeline until the device has caught up. Yet a bad class target must not pass silently. So on
a backend whose memory is not the host's, an op that must check values (``cross_entropy``'s
targets lie in [0, C)) computes on the device whether the check failed and the offending value,
and ``DeferredChecks.require`` folds both into one small device record without reading it. The
op itself never lets the bad values do harm (a bad target is masked: no out-of-bounds read, no
loss and no gradient from its row). The record is read once, at the next host read of any
tensor of the backend (``Tensor.numpy()``, ``.item()``, ``.tolist()``: the training loop reads
its loss once per epoch), and the first failure recorded is raised there, with the op, the
bad value and what was expected.

On the host (NumPy), reading is free, and ops check at once instead, as PyTorch does on the
CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# The record: [failed (0 or 1), the offending value, the index of the failure's description]
_FAILED, _VALUE, _SITE = range(3)


class DeferredChecks:
    """The pending value checks of one backend: a device record of the first failure since the
    last report, and the descriptions of the places that check (one per distinct ``key``)."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.record: Any = None  # made on first use, then reused: a captured step writes it
        self.pending = False  # whether a check may have failed since the last report
        self.requests = 0  # checks made so far (td.jit: whether a recorded step makes any)
        self._sites: dict[Any, int] = {}
        self._errors: list[Callable[[int], Exception]] = []

    def slot(self, key: Any, error: Callable[[int], Exception]) -> tuple[Any, int]:
        """``(record, site)`` for a kernel that checks values itself: it writes
        ``record[:] = [1, the offending value, site]`` if ``record[0]`` is 0 when the check at
        ``key`` fails, and leaves the record alone otherwise. ``error(value)`` makes the
        exception to raise for it at the next report."""
        site = self._sites.get(key)
        if site is None:
            site = self._sites[key] = len(self._errors)
            self._errors.append(error)
        if self.record is None:
            self.record = self.backend.xp.zeros((3,), dtype=self.backend.xp.int64)
        self.pending = True
        self.requests += 1
        return self.record, site

    def require(self, failed: Any, value: Any, key: Any, error: Callable[[int], Exception]
                ) -> None:
        """Record, on the device, that the check at ``key`` failed if the 0-d boolean array
        ``failed`` is true, with ``value`` (a 0-d integer array) the value to name; only the
        first failure is kept. ``error(value)`` makes the exception to raise for it. Reads
        nothing back."""
        xp = self.backend.xp
        record, site = self.slot(key, error)
        first = xp.logical_and(record[_FAILED] == 0, failed)
        news = xp.stack([xp.ones((), dtype=xp.int64), xp.astype(value, xp.int64),
                         xp.full((), site, dtype=xp.int64)])
        record[...] = xp.where(first, news, record)

    def report(self) -> None:
        """Raise the first failure recorded since the last report, if any (one read of the
        record, only when a check ran since then); the record is cleared either way."""
        if not self.pending:
            return
        self.pending = False
        failed, value, site = (int(v) for v in self.backend.to_numpy(self.record))
        if failed:
            self.record[...] = 0
            raise self._errors[site](value)
