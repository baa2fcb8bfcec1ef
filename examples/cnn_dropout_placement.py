"""Where dropout goes in a CNN: after the convolutional block or only in the dense head, and
element-wise (nn.Dropout) or spatial (nn.Dropout2d, whole channels) after the convolutions.

The network is the seed's CNN layout (td.models.cnn: conv, relu, conv, relu, maxpool, [5],
flatten, dense, relu, [9], dense) at reduced width by default (16 and 32 channels, 64 hidden
units; ``--widths 32,64,128`` is the seed's network itself), trained with the seed's Adadelta
(lr 1.0, rho 0.95, eps 1e-7, batch 128) on the first 1 000 Fashion-MNIST training images for
30 epochs, where the network without dropout overfits (a train-test gap above 0.1). Six
placements with the seed's rates (0.25 after the convolutions, 0.5 in the dense head), each
trained from the same initial weights and on the same mini-batches once per seed; the table
gives the mean train and test accuracy (all 10 000 test images, in inference mode), the lowest
and highest test accuracy over the seeds, the train-test gap, and the lowest and highest
difference from no dropout's test accuracy in the same seed (paired: same weights, batches).

Spatial dropout is the usual advice after convolutions: neighbouring pixels of a feature map
are strongly correlated, so dropping single pixels takes little information away, while
dropping a whole channel does.

    python examples/cnn_dropout_placement.py [--images 1000] [--epochs 30] [--seeds 2]
                                             [--widths 16,32,64] [--conv-rate 0.25]
                                             [--head-rate 0.5]
"""

from cnn_common import accuracy_table, compare, comparison_parser, conv_net, load


def placements(conv_rate: float, head_rate: float) -> dict[str, tuple[float, bool, float]]:
    """Name -> (rate after the conv block, spatial?, rate in the dense head)."""
    conv, head = f"{conv_rate:g}", f"{head_rate:g}"
    return {
        "no dropout": (0.0, False, 0.0),
        f"dense head only: [9] Dropout({head})": (0.0, False, head_rate),
        f"after convs only: [5] Dropout({conv})": (conv_rate, False, 0.0),
        f"after convs only: [5] Dropout2d({conv})": (conv_rate, True, 0.0),
        f"seed: [5] Dropout({conv}) + [9] Dropout({head})": (conv_rate, False, head_rate),
        f"[5] Dropout2d({conv}) + [9] Dropout({head})": (conv_rate, True, head_rate),
    }


def main(images: int = 1000, epochs: int = 30, seeds: int = 2,
         widths: tuple[int, int, int] = (16, 32, 64), conv_rate: float = 0.25,
         head_rate: float = 0.5, test_images: int | None = None,
         dataset: str = "fashion-mnist") -> dict[str, dict[str, list]]:
    """Train every placement once per seed; print the table and return name -> the per-seed
    train and test accuracies."""
    arrays = load(dataset, images, test_images)
    variants = {name: (lambda c=c, s=s, h=h: conv_net(widths, c, h, spatial=s))
                for name, (c, s, h) in placements(conv_rate, head_rate).items()}
    results = compare(variants, arrays, epochs, seeds)
    print(f"{dataset}: {len(arrays[0])} training images, {epochs} epochs, widths {widths}, "
          f"{seeds} seed(s), test on {len(arrays[2])} images")
    print(accuracy_table(results, "dropout placement"))
    return results


if __name__ == "__main__":
    parser = comparison_parser(__doc__)
    parser.add_argument("--conv-rate", type=float, default=0.25)
    parser.add_argument("--head-rate", type=float, default=0.5)
    args = parser.parse_args()
    main(args.images, args.epochs, args.seeds, args.widths, args.conv_rate, args.head_rate,
         args.test_images, args.dataset)
