"""Two conventions for one number: the drop rate p and the keep probability keep_prob = 1 - p.

torch.nn.Dropout(p) and tf.layers.dropout(rate) take the fraction to DROP; tf.nn.dropout
(TF 1) took keep_prob, the fraction to KEEP. tinygrad_drop accepts either, spelled out. This
script shows both spellings give identical masks, the scale 1/keep each implies, and what goes
wrong when a keep probability is passed where a drop rate is expected.

    python examples/keep_prob_vs_rate.py
"""

import numpy as np

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop import Tensor


def dropped_fraction(y: Tensor) -> float:
    return float((y.numpy() == 0).mean())


def main(n: int = 1_000_000) -> dict[str, float]:
    """Print a table of the two spellings and the classic mix-up; return the fractions."""
    x = Tensor.ones(n)
    print(f"{'call':46s} {'dropped':>8s} {'kept values':>12s}")
    fractions = {}
    for call, kw in (("F.dropout(x, p=0.2)", dict(p=0.2)),
                     ("F.dropout(x, keep_prob=0.8)", dict(keep_prob=0.8)),
                     ("F.dropout(x, p=0.8)   # keep_prob by mistake", dict(p=0.8))):
        td.manual_seed(0)
        y = F.dropout(x, **kw)
        fractions[call] = dropped_fraction(y)
        kept = np.unique(y.numpy()[y.numpy() != 0])
        print(f"{call:46s} {fractions[call]:8.4f} {', '.join(f'{v:g}' for v in kept):>12s}")
    td.manual_seed(0)
    by_rate = F.dropout(x, p=0.2).numpy()
    td.manual_seed(0)
    same = np.array_equal(by_rate, F.dropout(x, keep_prob=0.8).numpy())
    print(f"\nthe p=0.2 and keep_prob=0.8 outputs are identical element by element: {same}")
    print("the mix-up drops 80% instead of 20% and scales survivors by 5 instead of 1.25")
    try:
        import torch
        t = torch.nn.functional.dropout(torch.ones(n), p=0.2)
        print(f"torch.nn.functional.dropout(x, p=0.2) drops {(t == 0).float().mean():.4f}, "
              f"keeps values {torch.unique(t[t != 0]).tolist()}")
    except ImportError:
        pass
    return fractions


if __name__ == "__main__":
    main()
