"""The CuPy backend's recorder for ``td.jit`` (see ``capture.py``): a step captured from a side
stream into a CUDA graph, with its own memory pool, and replayed on the current stream.

Recording: the generator's device position is brought up to date, the call runs under CuPy's
stream capture with a private ``MemoryPool`` as allocator, one per step (memory a captured step
uses stays its own: nothing outside the graph, another step's graph included, is ever handed an
address the graph writes, even after the step's outputs are dropped), its dropout draws
read the device position (``philox.py``) and the step ends with one kernel that advances it.
Replaying launches the graph on the current stream, so it is ordered after the inputs were
copied in and before whatever reads the outputs, with no synchronisation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cupy

from .capture import CaptureError


class CupyStep:
    """A recorded step: ``replay()`` launches its graph; ``draws`` dropout draws per step from
    ``generator`` (whose device position the graph reads); ``pool`` the memory it was
    recorded in (held as long as the graph)."""

    def __init__(self, backend: Any, graph: Any, draws: int, checks: bool, pool: Any) -> None:
        self.backend, self.graph, self.draws, self.checks = backend, graph, draws, checks
        self.generator, self.pool = backend.generator, pool

    def replay(self) -> None:
        """Run the step once more on the current stream; the generator and the deferred value
        checks move on as if it had run eagerly."""
        generator = self.generator
        if self.draws:
            generator.device_position()  # rewritten only if eager draws moved the host on
        self.graph.launch()
        if self.draws:
            generator.replayed(self.draws)
        if self.checks:  # the step's value checks wrote the device record again
            self.backend.checks.pending = True


class CupyRecorder:
    """Records calls into CUDA graphs, from one side stream (capture cannot use the legacy
    default stream)."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.stream = cupy.cuda.Stream(non_blocking=True)

    def record(self, call: Callable[[], Any]) -> tuple[Any, CupyStep]:
        """Capture ``call()``, run it once (its result then holds this call's values) and
        return (result, the step to replay)."""
        backend, generator = self.backend, self.backend.generator
        checks = backend.checks
        pending, checks.pending = checks.pending, False
        position, pool = generator.begin_capture(), cupy.cuda.MemoryPool()
        try:
            result, graph = self._capture(call, position, pool)
        finally:
            draws = generator.end_capture()
            checked, checks.pending = checks.pending, pending
        step = CupyStep(backend, graph, draws, checked, pool)
        step.replay()
        return result, step

    def _capture(self, call: Callable[[], Any], position: Any, pool: Any) -> tuple[Any, Any]:
        """(``call()``'s result, the instantiated graph of its work and the position advance),
        everything it allocates taken from ``pool``."""
        backend, generator = self.backend, self.backend.generator
        with cupy.cuda.using_allocator(pool.malloc), self.stream:
            self.stream.begin_capture()
            backend.capturing = True
            try:
                result = call()
                draws = generator.offset - generator.capture_start
                if draws:
                    backend.kernels("dropout").advance_position(position, draws)
            except BaseException as exc:
                backend.capturing = False
                try:
                    self.stream.end_capture()
                except Exception:  # an invalidated capture ends with an error of its own
                    pass
                explained = _explained(exc)
                if explained is None:
                    raise
                raise explained from exc
            backend.capturing = False
            graph = self.stream.end_capture()
        return result, graph


def _explained(exc: BaseException) -> CaptureError | None:
    """A ``CaptureError`` saying what to do for a CUDA or CuPy refusal to capture, else None
    (the function's own errors pass through as they are)."""
    if isinstance(exc, CaptureError):
        return None
    text = str(exc)
    if not ("capture" in text.lower() or "Capture" in type(exc).__name__):
        return None
    return CaptureError(
        f"td.jit could not capture the function as a CUDA graph: {type(exc).__name__}: {text}. "
        "A captured function may only queue device work: no host reads (.item(), .numpy(), "
        "float(), print of a tensor), no Python decisions on tensor values, no device "
        "synchronisation, and only operations CuPy can capture (2-D float matrix products "
        "go through cuBLAS directly; batched ones cannot be captured). Move such work out of "
        "the function, or call it without td.jit.")
