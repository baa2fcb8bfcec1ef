"""A keep_prob per layer: the layer with more parameters, which overfits more, gets the lower
keep_prob.

In the seed's CNN layout (td.models.cnn) dropout slot [5] drops the output of the
convolutional block (the two convolutions hold 4 800 parameters at the default widths, 18 816
in the seed) and slot [9] drops the output of the dense layer [7] (294 976 parameters at the
default widths, 1 179 776 in the seed), which also feeds the classifier. The advice is a low
keep_prob on [9] and a high one (or none) on [5]; the seed's own choice (keep 0.75 at [5],
0.5 at [9]) follows it. This script trains one keep_prob everywhere against a keep_prob per
layer (and the reverse), written with ``nn.Dropout(keep_prob=...)``: reduced width by default
(16 and 32 channels, 64 hidden units; ``--widths 32,64,128`` is the seed), the seed's Adadelta,
the first 1 000 Fashion-MNIST training images for 30 epochs, each setting from the same
initial weights and mini-batches once per seed; mean train and test accuracy (all 10 000 test
images), the lowest and highest test accuracy over the seeds, the gap, and the lowest and
highest difference from no dropout's test accuracy in the same seed.

    python examples/cnn_keep_prob_per_layer.py [--images 1000] [--epochs 30] [--seeds 2]
                                               [--widths 16,32,64]
                                               [--keeps 1,1 0.75,0.75 0.5,0.5 0.9,0.5 0.5,0.9]
"""

from cnn_common import (
    CONV_SLOT,
    HEAD_SLOT,
    accuracy_table,
    compare,
    comparison_parser,
    conv_net,
    load,
)

from tinygrad_drop import nn

KEEPS = ((1.0, 1.0), (0.75, 0.75), (0.5, 0.5), (0.9, 0.5), (0.5, 0.9))


def with_keep_probs(widths: tuple[int, int, int], conv_keep: float, head_keep: float
                    ) -> nn.Module:
    """The CNN with ``nn.Dropout(keep_prob=...)`` in slots [5] and [9] (keep 1: no dropout)."""
    model = conv_net(widths)
    for slot, keep in ((CONV_SLOT, conv_keep), (HEAD_SLOT, head_keep)):
        if keep < 1.0:
            model[slot] = nn.Dropout(keep_prob=keep)
    return model


def parameter_counts(widths: tuple[int, int, int]) -> tuple[int, int]:
    """Parameters of the layers whose output slot [5] drops (both convolutions) and of the
    dense layer [7] whose output slot [9] drops."""
    model = conv_net(widths)
    count = lambda *layers: sum(p.numel() for i in layers for p in model[i].parameters())  # noqa: E731
    return count(0, 2), count(7)


def label(conv_keep: float, head_keep: float) -> str:
    """A table row's name: the keep_probs and which kind of setting they are."""
    kind = ("no dropout" if conv_keep == head_keep == 1.0 else
            "one keep_prob" if conv_keep == head_keep else
            "per layer, lower on the dense layer" if head_keep < conv_keep else
            "per layer, lower on the convs")
    return f"keep [5] {conv_keep:g}, [9] {head_keep:g} ({kind})"


def main(images: int = 1000, epochs: int = 30, seeds: int = 2,
         widths: tuple[int, int, int] = (16, 32, 64),
         keeps: tuple[tuple[float, float], ...] = KEEPS, test_images: int | None = None,
         dataset: str = "fashion-mnist") -> dict[str, dict[str, list]]:
    """Train every (keep at [5], keep at [9]) setting once per seed; print the parameter
    counts and the table; return name -> the per-seed train and test accuracies."""
    arrays = load(dataset, images, test_images)
    variants = {label(c, h): (lambda c=c, h=h: with_keep_probs(widths, c, h)) for c, h in keeps}
    results = compare(variants, arrays, epochs, seeds)
    convs, dense = parameter_counts(widths)
    print(f"{dataset}: {len(arrays[0])} training images, {epochs} epochs, widths {widths}, "
          f"{seeds} seed(s), test on {len(arrays[2])} images")
    print(f"slot [5] drops the output of the convolutions ({convs} parameters); slot [9] drops "
          f"the output of dense layer [7] ({dense} parameters)")
    print(accuracy_table(results, "keep_prob per slot"))
    return results


def keep_pair(text: str) -> tuple[float, float]:
    """argparse type for one ``conv_keep,head_keep`` pair, e.g. ``0.9,0.5``."""
    conv_keep, head_keep = (float(v) for v in text.split(","))
    return conv_keep, head_keep


if __name__ == "__main__":
    parser = comparison_parser(__doc__)
    parser.add_argument("--keeps", type=keep_pair, nargs="+", default=list(KEEPS))
    args = parser.parse_args()
    main(args.images, args.epochs, args.seeds, args.widths, tuple(args.keeps),
         args.test_images, args.dataset)
