"""Host emulation (``cuda_host.py``) of what a captured step (``td.jit``) needs: launchers for
the Philox kernels that read their position from device memory (``POSITION_HOST_LAUNCHERS``),
and a stand-in backend that records launches as a CUDA graph does (``HostGraphBackend``)."""

from __future__ import annotations

from typing import Any

from cuda_host import HOST_LAUNCHERS, HostLaunchBackend

POSITION_HOST_LAUNCHERS = HOST_LAUNCHERS + r"""
extern "C" {
void host_dropout_forward_at(unsigned int blocks, const T* x, T* y, unsigned char* mask, ull n,
                             unsigned int threshold, T divisor, const ull* position, ull delta,
                             ull* kept, int vector) {
    TD_GRID(blocks, td_dropout_forward_at(x, y, mask, n, threshold, divisor, position, delta,
                                          kept, vector));
}
void host_dropout_backward_regen_at(unsigned int blocks, const T* g, T* dx, ull n,
                                    unsigned int threshold, T divisor, const ull* position,
                                    ull delta, int vector) {
    TD_GRID(blocks, td_dropout_backward_regen_at(g, dx, n, threshold, divisor, position, delta,
                                                 vector));
}
void host_keep_mask_at(unsigned int blocks, unsigned char* mask, ull n, unsigned int threshold,
                       const ull* position, ull delta) {
    TD_GRID(blocks, td_keep_mask_at(mask, n, threshold, position, delta));
}
void host_dropout2d_forward_at(unsigned int blocks, const T* x, T* y, unsigned char* mask,
                               ull n, ull plane, unsigned int threshold, T divisor,
                               const ull* position, ull delta, ull* kept, int vector) {
    TD_GRID(blocks, td_dropout2d_forward_at(x, y, mask, n, plane, threshold, divisor, position,
                                            delta, kept, vector));
}
void host_dropout2d_backward_regen_at(unsigned int blocks, const T* g, T* dx, ull n, ull plane,
                                      unsigned int threshold, T divisor, const ull* position,
                                      ull delta, int vector) {
    TD_GRID(blocks, td_dropout2d_backward_regen_at(g, dx, n, plane, threshold, divisor,
                                                   position, delta, vector));
}
void host_advance_offset(unsigned int blocks, ull* position, ull draws) {
    TD_GRID(blocks, td_advance_offset(position, draws));
}
}
"""


class HostGraphBackend(HostLaunchBackend):
    """``HostLaunchBackend`` that can record launches as a CUDA graph does: between
    ``begin_capture`` and ``end_capture`` launches are kept (kernel and arguments, arrays by
    address) instead of run, and ``capturing`` is True; ``replay`` runs the kept launches again
    on the same arrays."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.capturing = False
        self.recorded: list[tuple[str, str, int, tuple]] = []

    def launch(self, dtype_name: str, kernel: str, n: int, args: tuple) -> None:
        if self.capturing:
            self.recorded.append((dtype_name, kernel, n, args))
        else:
            super().launch(dtype_name, kernel, n, args)

    def begin_capture(self) -> None:
        """Start keeping launches (a fresh recording)."""
        self.capturing, self.recorded = True, []

    def end_capture(self) -> list[tuple[str, str, int, tuple]]:
        """Stop keeping launches; the recording."""
        self.capturing = False
        return self.recorded

    def replay(self, recording: list[tuple[str, str, int, tuple]]) -> None:
        """Run the kept launches in order."""
        for dtype_name, kernel, n, args in recording:
            super().launch(dtype_name, kernel, n, args)
