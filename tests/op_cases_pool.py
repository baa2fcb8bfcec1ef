"""Op table rows: the pool family, 2-D max and average pooling (see op_case.py for the row
types). Random N(0, 1) inputs keep max pooling away from ties for gradcheck; the exact rows pin
PyTorch's tie rule (the first maximal element of a window gets the gradient) and the padding."""

from op_case import Case, Exact

import tinygrad_drop.nn.functional as F


def pooled(name, *args):
    """Our F.<name>(x, *args) and PyTorch's."""
    def theirs(x):
        import torch
        return getattr(torch.nn.functional, name)(x, *args)
    return (lambda x: getattr(F, name)(x, *args)), theirs


CASES = {
    "max_pool2d": Case(*pooled("max_pool2d", 2), ((2, 3, 6, 7),)),
    "max_pool2d_overlap_padded": Case(*pooled("max_pool2d", 3, 2, 1), ((2, 2, 7, 6),)),
    "max_pool2d_chw_rect": Case(*pooled("max_pool2d", (2, 3), (1, 2), (1, 0)), ((3, 5, 6),)),
    "max_pool2d_tie": Case(*pooled("max_pool2d", 2), exact=Exact(  # first maximum gets it
        ([[[[1.0, 1.0], [1.0, 0.0]]]],), [[[[1.0]]]], ([[[[1.0, 0.0], [0.0, 0.0]]]],))),
    "max_pool2d_padded": Case(*pooled("max_pool2d", 2, 1, 1), exact=Exact(  # -inf padding
        ([[[[1.0, 2.0], [3.0, 4.0]]]],), [[[[1.0, 2.0, 2.0], [3.0, 4.0, 4.0], [3.0, 4.0, 4.0]]]],
        ([[[[1.0, 2.0], [2.0, 4.0]]]],))),
    "avg_pool2d": Case(*pooled("avg_pool2d", 2), ((2, 3, 6, 7),)),
    "avg_pool2d_overlap_padded": Case(*pooled("avg_pool2d", 3, 1, 1), ((2, 2, 5, 6),)),
    "avg_pool2d_chw_rect": Case(*pooled("avg_pool2d", (3, 2), (2, 1), (1, 1)), ((2, 6, 5),)),
    "avg_pool2d_counts_padding": Case(*pooled("avg_pool2d", 2, 2, 1), exact=Exact(
        ([[[[4.0, 8.0], [12.0, 16.0]]]],), [[[[1.0, 2.0], [3.0, 4.0]]]],
        ([[[[0.25, 0.25], [0.25, 0.25]]]],))),
}
