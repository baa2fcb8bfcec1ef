"""What ``td.jit`` asks of a backend that can capture device work, and the errors of capture.

A backend that can capture returns a recorder from ``Backend.capture()`` (the base class returns
None: it cannot, and ``jit`` simply calls the function). A recorder has one method:

    record(call) -> (result, step): runs ``call()`` (no arguments) while recording the device
    work it queues, then runs the recorded work once, so ``result`` (whatever ``call``
    returned) holds the values of this call; ``step.replay()`` runs the same work again, on the
    same memory: inputs read from, and outputs written to, the addresses of the recorded call.

While recording, the backend sets its ``capturing`` flag: work that cannot be recorded (a read
of a device value on the host) raises ``CaptureError`` saying what to do instead.
"""

from __future__ import annotations


class CaptureError(RuntimeError):
    """A function being captured by ``td.jit`` did something a recorded step cannot do."""


def host_read_error(backend: str) -> CaptureError:
    """The error for a host read (``.item()``, ``.numpy()``, ``float(t)``) inside a captured
    function on ``backend``."""
    return CaptureError(
        f"a tensor of backend {backend!r} was read on the host (.item(), .numpy(), .tolist(), "
        "float(), bool() or print) inside a function td.jit is capturing: the captured step "
        "runs on the device without the host, so it cannot wait for a value. Return the tensor "
        "from the function and read it after the call (e.g. `loss = step(x, y); "
        "loss.item()`), or call the function without td.jit.")
