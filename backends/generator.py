"""Random generators: the interface every backend's generator implements, and the two rules
every dropout mask follows (the degenerate keep probabilities, and the 32-bit threshold)."""

from __future__ import annotations

from typing import Any


def certain_keep(keep: float) -> bool | None:
    """Dropout's degenerate keep probabilities, decided here and nowhere else: True when every
    element is kept (keep >= 1), False when none is (keep <= 0), None when a draw is needed."""
    if keep >= 1.0:
        return True
    if keep <= 0.0:
        return False
    return None


def keep_threshold(keep: float) -> int:
    """Integer threshold t with P(u32 < t) = t / 2**32 within 2**-32 of ``keep`` (2**-33 below
    keep = 1 - 2**-33): dropout keeps an element when its random 32-bit word is below t."""
    return min(int(round(keep * 2 ** 32)), 2 ** 32 - 1)


class Generator:
    """A seeded random generator living on one backend.

    Subclasses set ``xp`` (the namespace their arrays belong to) and implement ``manual_seed``,
    ``uniform``, ``normal`` and ``draw_mask``; every array they return is a native array of the
    owning backend.
    """

    xp: Any = None

    def manual_seed(self, seed: int) -> Generator:
        """Reset the generator to the state given by ``seed``."""
        raise NotImplementedError

    def uniform(self, shape: tuple[int, ...], dtype: Any) -> Any:
        """Samples from U[0, 1) of ``shape`` and backend ``dtype``."""
        raise NotImplementedError

    def normal(self, shape: tuple[int, ...], dtype: Any) -> Any:
        """Samples from N(0, 1) of ``shape`` and backend ``dtype``."""
        raise NotImplementedError

    def bernoulli_mask(self, shape: tuple[int, ...], keep: float) -> Any:
        """Boolean array, each element True with probability ``keep`` (within 1e-6); keep >= 1
        and keep <= 0 give all True and all False without drawing."""
        certain = certain_keep(keep)
        if certain is not None:
            return self.xp.full(shape, certain)
        return self.draw_mask(shape, keep)

    def draw_mask(self, shape: tuple[int, ...], keep: float) -> Any:
        """``bernoulli_mask`` for 0 < keep < 1: the draw itself."""
        raise NotImplementedError
