"""Op table rows: the conv family (see op_case.py for the row types)."""

from op_case import Case, Exact
from op_functional import functional

# 3x3 input, 2x2 kernel [[1, 0], [0, -1]], bias 0.5: out[y, x] = x[y, x] - x[y+1, x+1] + 0.5;
# the gradient of out.sum() is +1 under the kernel's 1 and -1 under its -1 at each position.
SQUARE = [[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]]
DIAGONAL = [[[[1.0, 0.0], [0.0, -1.0]]]]

CASES = {
    "conv2d": Case(*functional("conv2d"), ((2, 3, 5, 5), (4, 3, 3, 3), (4,))),
    "conv2d_worked": Case(*functional("conv2d"), exact=Exact(
        (SQUARE, DIAGONAL, [0.5]), [[[[-3.5, -3.5], [-3.5, -3.5]]]],
        ([[[[1.0, 1.0, 0.0], [1.0, 0.0, -1.0], [0.0, -1.0, -1.0]]]],
         [[[[12.0, 16.0], [24.0, 28.0]]]], [4.0]))),
    # stride 2 over padding 1: the padded 5x5 gives 2x2 outputs from rows/columns 0 and 2
    "conv2d_stride_padding_worked": Case(*functional("conv2d", stride=2, padding=1), exact=Exact(
        (SQUARE, [[[[1.0, 1.0], [1.0, 1.0]]]]), [[[[1.0, 5.0], [11.0, 28.0]]]],
        ([[[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]]],
         [[[[5.0, 10.0], [10.0, 20.0]]]]))),
    "conv2d_stride_padding": Case(*functional("conv2d", stride=2, padding=1),
                                  ((2, 3, 6, 5), (4, 3, 3, 3), (4,))),
    "conv2d_stride_pair": Case(*functional("conv2d", stride=(2, 1), padding=(0, 2)),
                               ((1, 2, 7, 5), (3, 2, 3, 2), (3,))),
    "conv2d_dilation": Case(*functional("conv2d", dilation=2, padding=(2, 1)),
                            ((2, 2, 6, 7), (3, 2, 3, 2), (3,))),
    "conv2d_dilation_stride": Case(*functional("conv2d", stride=2, dilation=(1, 2)),
                                   ((1, 2, 7, 8), (2, 2, 2, 3), (2,))),
    "conv2d_groups": Case(*functional("conv2d", groups=2), ((2, 4, 5, 5), (6, 2, 3, 3), (6,))),
    "conv2d_depthwise": Case(*functional("conv2d", groups=3, padding=1),
                             ((2, 3, 4, 4), (3, 1, 3, 3), (3,))),
    "conv2d_groups_everything": Case(
        *functional("conv2d", stride=(1, 2), padding=(1, 2), dilation=(2, 1), groups=2),
        ((2, 4, 6, 5), (4, 2, 2, 3), (4,))),
    "conv2d_no_bias": Case(*functional("conv2d", padding=1), ((2, 3, 4, 4), (2, 3, 3, 3))),
    "conv2d_1x1": Case(*functional("conv2d"), ((2, 3, 4, 5), (5, 3, 1, 1), (5,))),
    "conv2d_nonsquare": Case(*functional("conv2d", stride=(1, 2)),
                             ((1, 2, 4, 7), (3, 2, 2, 3), (3,))),
    "conv2d_kernel_fills_input": Case(*functional("conv2d"), ((3, 2, 3, 2), (4, 2, 3, 2), (4,))),
    "conv2d_same_even_kernel": Case(*functional("conv2d", padding="same", dilation=(1, 2)),
                                    ((1, 2, 5, 6), (2, 2, 2, 2), (2,))),
    "conv2d_valid": Case(*functional("conv2d", padding="valid"), ((1, 2, 4, 4), (2, 2, 3, 3))),
    "conv2d_unbatched": Case(*functional("conv2d", padding=1), ((3, 4, 4), (2, 3, 3, 3), (2,))),
}
