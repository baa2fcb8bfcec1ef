"""Philox4x32-10 on the host: the definition of the CuPy backend's dropout stream.

Philox (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011) maps a 128-bit
counter and a 64-bit key to four random 32-bit words, so any element's random bits can be made
on its own. The CuPy backend's fused dropout kernel and this module draw the same stream:

    element i of a dropout call with generator (seed, offset) uses word i % 4 of
    Philox4x32-10(counter = (g mod 2**32, g >> 32, offset mod 2**32, offset >> 32),
                  key = (seed mod 2**32, seed >> 32)),     g = i // 4,
    and is kept when that word < keep_threshold(keep).

Each draw advances the generator's offset by one. ``PhiloxGenerator`` draws these masks with
NumPy, so a CPU run reproduces a GPU run's masks bit for bit (slower than the NumPy backend's
own generator: use it for parity, teaching and debugging).

A step captured by ``td.jit`` and replayed cannot take its offsets from the host: the graph
replays the arguments it was captured with. So while capturing, a draw is a ``Draw`` whose
kernels read (seed, offset) from the generator's ``device_position`` (a 2-element uint64 array
of its backend) plus the draw's ``delta`` in the step, and the step ends by adding its number of
draws to the device offset. The host keeps count (``replayed``), so eager draws after replays
continue the same stream: k replays draw exactly what k eager steps would.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from .generator import Generator, certain_keep, keep_threshold

PHILOX_M0, PHILOX_M1 = 0xD2511F53, 0xCD9E8D57  # round multipliers
PHILOX_W0, PHILOX_W1 = 0x9E3779B9, 0xBB67AE85  # key schedule increments (golden ratio, sqrt 3)
ROUNDS = 10
_LOW32 = 0xFFFFFFFF


def philox4x32(counter: Any, key: Any) -> np.ndarray:
    """Philox4x32-10 of ``counter`` (..., 4) uint32 under ``key`` (2,) uint32 -> (..., 4) uint32."""
    c = np.asarray(counter, dtype=np.uint32)
    if c.shape[-1:] != (4,):
        raise ValueError(f"philox4x32: counter must have shape (..., 4), got {c.shape}")
    k0, k1 = (int(k) & _LOW32 for k in key)
    c0, c1, c2, c3 = (c[..., j].astype(np.uint64) for j in range(4))
    for round_index in range(ROUNDS):
        if round_index:
            k0, k1 = (k0 + PHILOX_W0) & _LOW32, (k1 + PHILOX_W1) & _LOW32
        product0, product1 = c0 * PHILOX_M0, c2 * PHILOX_M1
        c0, c1, c2, c3 = ((product1 >> 32) ^ c1 ^ k0, product1 & _LOW32,
                          (product0 >> 32) ^ c3 ^ k1, product0 & _LOW32)
    return np.stack([c0, c1, c2, c3], axis=-1).astype(np.uint32)


def group_words(seed: int, offset: int, groups: Any) -> np.ndarray:
    """The four words (..., 4) of each element group in ``groups`` (uint64 indices) of the
    dropout call at (``seed``, ``offset``)."""
    groups = np.asarray(groups, dtype=np.uint64)
    counter = np.empty(groups.shape + (4,), dtype=np.uint32)
    counter[..., 0] = groups & _LOW32
    counter[..., 1] = groups >> 32
    counter[..., 2] = offset & _LOW32
    counter[..., 3] = (offset >> 32) & _LOW32
    return philox4x32(counter, (seed & _LOW32, (seed >> 32) & _LOW32))


def dropout_words(seed: int, offset: int, count: int) -> np.ndarray:
    """The ``count`` uint32 words a dropout call at (``seed``, ``offset``) compares with the
    threshold, element by element (see the module docstring)."""
    groups = np.arange(-(-count // 4), dtype=np.uint64)
    return group_words(seed, offset, groups).reshape(-1)[:count]


def dropout_mask(seed: int, offset: int, shape: tuple[int, ...], keep: float) -> np.ndarray:
    """The boolean keep-mask of a dropout call at (``seed``, ``offset``) on ``shape``."""
    certain = certain_keep(keep)
    if certain is not None:
        return np.full(shape, certain)
    words = dropout_words(seed, offset, math.prod(shape))
    return (words < keep_threshold(keep)).reshape(shape)


class Draw(NamedTuple):
    """Where one dropout call draws: the stream at (``seed``, ``offset``); while a step is
    captured also ``position`` (the generator's device array) and ``delta`` (offset minus the
    step's first offset), which captured kernels read instead; both None eagerly."""

    seed: int
    offset: int
    position: Any = None
    delta: int | None = None


class PhiloxStreamGenerator(Generator):
    """A generator whose dropout masks are the Philox stream at (seed, offset); ``seed`` and
    ``offset`` are its whole mask state. Subclasses say where the masks are drawn
    (``draw_mask``) and which generator makes uniform and normal values
    (``value_generator``: they need not match across backends, only be reproducible)."""

    def __init__(self, seed: int = 0) -> None:
        self.manual_seed(seed)

    def manual_seed(self, seed: int) -> PhiloxStreamGenerator:
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2 ** 64:
            raise ValueError(f"Philox seed must be an int in [0, 2**64), got {seed!r}")
        self.seed, self.offset = seed, 0
        self.rng = self.value_generator(seed)
        return self

    # A captured step's draws read the generator's position from this device array, whose
    # address never changes; ``_holds`` is the (seed, offset) it holds once queued work is done.
    _position: Any = None
    _holds: tuple[int, int] | None = None
    capture_start: int | None = None  # the offset a step being captured started at

    def device_position(self) -> Any:
        """The array (seed, next offset), uint64 on this generator's backend, written first if
        eager draws or a new seed moved the host past what it holds."""
        if self._position is None:
            self._position = self.xp.zeros((2,), dtype=self.xp.uint64)
        if self._holds != (self.seed, self.offset):
            self._position[...] = self.xp.asarray(
                np.array([self.seed, self.offset], dtype=np.uint64))
            self._holds = (self.seed, self.offset)
        return self._position

    def begin_capture(self) -> Any:
        """Start capturing a step: later draws are ``Draw``s relative to the device position
        (returned, up to date) until ``end_capture``."""
        if self.capture_start is not None:
            raise RuntimeError("Philox generator: a capture is already in progress")
        position = self.device_position()
        self.capture_start = self.offset
        return position

    def end_capture(self) -> int:
        """Stop capturing; the number of draws the step makes. Nothing captured has run yet,
        so the host offset goes back to the step's start (``replayed`` moves it on)."""
        start, self.capture_start = self.capture_start, None
        if start is None:
            raise RuntimeError("Philox generator: end_capture without begin_capture")
        draws, self.offset = self.offset - start, start
        return draws

    def replayed(self, draws: int) -> None:
        """A captured step of ``draws`` draws ran once on the device, from the device position
        (which ``device_position`` had brought up to date): host and device both move on."""
        if self._holds != (self.seed, self.offset):
            raise RuntimeError("Philox generator: a step was replayed from a stale device "
                               "position (call device_position() before each replay)")
        self.offset += draws
        self._holds = (self.seed, self.offset)

    def take_draw(self) -> Draw:
        """The next draw (advancing the offset by one): eager, or relative to the device
        position while a step is captured."""
        offset = self.take_offset()
        if self.capture_start is None:
            return Draw(self.seed, offset)
        return Draw(self.seed, offset, self._position, offset - self.capture_start)

    def value_generator(self, seed: int) -> Any:
        """The generator behind ``uniform`` and ``normal`` (NumPy's or CuPy's Generator API)."""
        raise NotImplementedError

    def take_offset(self) -> int:
        """The offset for the next draw (each draw advances it by one)."""
        offset, self.offset = self.offset, self.offset + 1
        return offset

    def uniform(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return self.rng.random(shape, dtype=dtype)

    def normal(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return self.rng.standard_normal(shape, dtype=dtype)


class PhiloxGenerator(PhiloxStreamGenerator):
    """A NumPy-backend generator whose masks are the CuPy backend's, bit for bit, for the same
    seed: ``F.dropout(x, generator=PhiloxGenerator(7))`` on the CPU drops what the GPU drops."""

    xp = np

    def value_generator(self, seed: int) -> np.random.Generator:
        return np.random.Generator(np.random.Philox(seed))

    def draw_mask(self, shape: tuple[int, ...], keep: float) -> np.ndarray:
        return dropout_mask(self.seed, self.take_offset(), shape, keep)
