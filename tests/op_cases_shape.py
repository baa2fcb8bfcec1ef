"""Op table rows: the shape, index, join and select families (see op_case.py for the row
types)."""

from op_case import Case, Exact, constant

import tinygrad_drop as td
from tinygrad_drop.functions import pad


def ints(values, like):
    return constant(values, like, "int64")


def mask(values, like):
    return constant(values, like, "bool")


def lib(x):
    """The package-level functions of ``x``'s library (``td`` or ``torch``)."""
    if isinstance(x, td.Tensor):
        return td
    import torch
    return torch


def padded(*args, **kw):
    def run(a):
        if isinstance(a, td.Tensor):
            return pad(a, *args, **kw)
        import torch
        return torch.nn.functional.pad(a, *args, **kw)
    return run


MASK = [[True, False, True, False], [False, False, True, True], [True, True, False, False]]

CASES = {
    # -- shape
    "reshape": Case(lambda a: a.reshape(3, 4), lambda a: a.reshape(3, 4), ((2, 6),)),
    "reshape_infer": Case(lambda a: a.reshape(-1, 2), lambda a: a.reshape(-1, 2), ((2, 6),)),
    "view": Case(lambda a: a.view((4, -1)), lambda a: a.view((4, -1)), ((2, 6),)),
    "transpose_swaps_two_dims": Case(lambda a: a.transpose(0, 1), lambda a: a.transpose(0, 1),
                                     ((3, 4),), exact=Exact(([[1.0, 2.0], [3.0, 4.0]],),
                                                            [[1.0, 3.0], [2.0, 4.0]],
                                                            ([[1, 1], [1, 1]],))),
    "transpose_negative_dims": Case(lambda a: a.transpose(-1, -3), lambda a: a.transpose(-1, -3),
                                    ((2, 3, 4),)),
    "permute": Case(lambda a: a.permute(2, 0, 1), lambda a: a.permute(2, 0, 1), ((2, 3, 4),)),
    "permute_tuple_negative": Case(lambda a: a.permute((-1, 0, -2)),
                                   lambda a: a.permute((-1, 0, -2)), ((2, 3, 4),)),
    "T": Case(lambda a: a.T, lambda a: a.T, ((3, 4),), exact=Exact(
        ([[1.0, 2.0, 3.0]],), [[1.0], [2.0], [3.0]], ([[1, 1, 1]],))),
    "mT": Case(lambda a: a.mT, lambda a: a.mT, ((2, 3, 4),)),
    "flatten": Case(lambda a: a.flatten(1), lambda a: a.flatten(1), ((2, 3, 4),)),
    "flatten_range": Case(lambda a: a.flatten(0, -2), lambda a: a.flatten(0, -2), ((2, 3, 4),)),
    "squeeze_all": Case(lambda a: a.squeeze(), lambda a: a.squeeze(), ((1, 3, 1, 2),)),
    "squeeze_dims": Case(lambda a: a.squeeze((0, -1, 1)), lambda a: a.squeeze((0, -1, 1)),
                         ((1, 3, 1, 1),)),
    "unsqueeze_negative": Case(lambda a: a.unsqueeze(-2), lambda a: a.unsqueeze(-2), ((2, 3),)),
    "expand_new_dims": Case(lambda a: a.expand(2, 2, 3), lambda a: a.expand(2, 2, 3), ((2, 1),),
                            exact=Exact(([[1.0], [2.0]],), [[[1.0] * 3, [2.0] * 3]] * 2,
                                        ([[6.0], [6.0]],))),
    "expand_keep_sizes": Case(lambda a: a.expand(-1, 4, -1), lambda a: a.expand(-1, 4, -1),
                              ((2, 1, 3),)),
    "pad_last_dim": Case(padded((1, 2)), padded((1, 2)), ((2, 3),), exact=Exact(
        ([[1.0, 2.0]],), [[0.0, 1.0, 2.0, 0.0, 0.0]], ([[1, 1]],))),
    "pad_crop_and_value": Case(padded((-1, 1, 2, 0), value=0.5),
                               padded((-1, 1, 2, 0), value=0.5), ((3, 4),), exact=Exact(
        ([[1.0, 2.0, 3.0]],), [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5], [2.0, 3.0, 0.5]],
        ([[0, 1, 1]],))),
    "pad_three_dims": Case(padded((0, 1, 1, 0, 2, -1)), padded((0, 1, 1, 0, 2, -1)),
                           ((3, 2, 4),)),
    # -- index (PyTorch's rules)
    "index_int": Case(lambda a: a[1], lambda a: a[1], ((3, 4),)),
    "index_slices": Case(lambda a: a[:, 1:3], lambda a: a[:, 1:3], ((3, 4),)),
    "index_slice_1d": Case(lambda a: a[1:], lambda a: a[1:], exact=Exact(
        ([1.0, 2.0, 3.0],), [2.0, 3.0], ([0, 1, 1],))),
    "index_slice_out_of_range": Case(lambda a: a[-10:2, 2:99], lambda a: a[-10:2, 2:99],
                                     ((3, 4),)),
    "index_newaxis_step": Case(lambda a: a[None, ::2], lambda a: a[None, ::2], ((4, 3),)),
    "index_ellipsis": Case(lambda a: a[..., 0], lambda a: a[..., 0], ((2, 3, 4),)),
    "index_repeated_ints": Case(lambda a: a[[0, 2, 0]], lambda a: a[[0, 2, 0]], ((3, 4),)),
    "index_repeats_add_up": Case(lambda a: a[[0, 0, 2]], lambda a: a[[0, 0, 2]], exact=Exact(
        ([1.0, 2.0, 3.0],), [1.0, 1.0, 3.0], ([2, 0, 1],))),
    "index_two_int_arrays": Case(lambda a: a[[0, 1, 1], [2, 0, 2]],
                                 lambda a: a[[0, 1, 1], [2, 0, 2]], ((2, 3),)),
    "index_bool_mask": Case(lambda a: a[a > 0], lambda a: a[a > 0], ((3, 4),), "away"),
    "index_list_and_slice": Case(lambda a: a[[2, 0, 2], 1:], lambda a: a[[2, 0, 2], 1:],
                                 ((3, 4),)),
    "index_list_and_negative_int": Case(lambda a: a[[2, -3], -1], lambda a: a[[2, -3], -1],
                                        ((3, 4),)),
    "index_2d_int_array": Case(lambda a: a[ints([[0, 2], [2, 2]], a)],
                               lambda a: a[ints([[0, 2], [2, 2]], a)], ((3, 4),)),
    "index_int_slice_list_torch_order": Case(lambda a: a[0, :, [0, 1]],
                                             lambda a: a[0, :, [0, 1]], ((2, 3, 4),),
                                             exact=Exact(([[[1.0, 2.0], [3.0, 4.0]]],),
                                                         [[1.0, 2.0], [3.0, 4.0]],
                                                         ([[[1, 1], [1, 1]]],))),
    "index_lists_split_by_slice": Case(lambda a: a[[1, 0], :, [3, 3]],
                                       lambda a: a[[1, 0], :, [3, 3]], ((2, 3, 4),)),
    "index_lists_split_by_none": Case(lambda a: a[[1, 0], None, [2, 1]],
                                      lambda a: a[[1, 0], None, [2, 1]], ((2, 3, 4),)),
    "index_lists_broadcast": Case(lambda a: a[ints([[0], [1]], a), :, ints([1, 3, 3], a)],
                                  lambda a: a[ints([[0], [1]], a), :, ints([1, 3, 3], a)],
                                  ((2, 3, 4),)),
    "index_bool_scalar_and_list": Case(lambda a: a[True, [1, 1]], lambda a: a[True, [1, 1]],
                                       ((3, 4),)),
    "index_mask_after_int": Case(lambda a: a[1, mask(MASK, a)], lambda a: a[1, mask(MASK, a)],
                                 ((2, 3, 4),)),
    "index_mask_middle_dim": Case(lambda a: a[:, mask([True, False, True], a), 1:],
                                  lambda a: a[:, mask([True, False, True], a), 1:],
                                  ((2, 3, 4),)),
    "gather_rows": Case(lambda a: a.gather(1, ints([[0, 0, 3], [1, 3, 3]], a)),
                        lambda a: a.gather(1, ints([[0, 0, 3], [1, 3, 3]], a)), ((3, 4),),
                        exact=Exact(([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]],),
                                    [[1.0, 1.0, 4.0], [6.0, 8.0, 8.0]],
                                    ([[2, 0, 0, 1], [0, 1, 0, 2]],))),
    "gather_smaller_index_negative_dim": Case(
        lambda a: a.gather(-3, ints([[[1, 0], [0, 0]]], a)),
        lambda a: a.gather(-3, ints([[[1, 0], [0, 0]]], a)), ((2, 3, 4),)),
    # -- join
    "cat_dim0": Case(lambda a, b: lib(a).cat([a, b]), lambda a, b: lib(a).cat([a, b]),
                     ((2, 3), (1, 3)), exact=Exact(([1.0, 2.0], [3.0]), [1.0, 2.0, 3.0],
                                                   ([1, 1], [1]))),
    "cat_negative_dim_three": Case(lambda a, b, c: lib(a).cat((a, b, a * c), dim=-1),
                                   lambda a, b, c: lib(a).cat((a, b, a * c), dim=-1),
                                   ((2, 3), (2, 1), (2, 3))),
    "stack": Case(lambda a, b: lib(a).stack([a, b]), lambda a, b: lib(a).stack([a, b]),
                  ((2, 3), (2, 3)), exact=Exact(([1.0, 2.0], [3.0, 4.0]),
                                                [[1.0, 2.0], [3.0, 4.0]], ([1, 1], [1, 1]))),
    "stack_last_dim": Case(lambda a, b: lib(a).stack([a, b, a], dim=-1),
                           lambda a, b: lib(a).stack([a, b, a], dim=-1), ((2, 3), (2, 3))),
    "split_sizes_reversed": Case(lambda a: lib(a).cat(a.split([1, 3], 1)[::-1], 1),
                                 lambda a: lib(a).cat(a.split([1, 3], 1)[::-1], 1),
                                 ((2, 4),), exact=Exact(([[1.0, 2.0, 3.0, 4.0]],),
                                                        [[2.0, 3.0, 4.0, 1.0]],
                                                        ([[1, 1, 1, 1]],))),
    "split_size_uneven": Case(lambda a: lib(a).split(a, 2, -1)[2] * 3.0,
                              lambda a: lib(a).split(a, 2, -1)[2] * 3.0, ((3, 5),)),
    "chunk": Case(lambda a: lib(a).stack(lib(a).chunk(a, 3, 1), 0),
                  lambda a: lib(a).stack(lib(a).chunk(a, 3, 1), 0), ((2, 6),)),
    # -- select
    "where": Case(lambda a, b: lib(a).where(a > 0, a, b), lambda a, b: lib(a).where(a > 0, a, b),
                  ((3, 4), (4,)), "away", exact=Exact(
        ([1.0, -2.0], [5.0, 6.0]), [1.0, 6.0], ([1, 0], [0, 1]))),
    "where_number": Case(lambda a: lib(a).where(mask(MASK, a), 0.5, a),
                         lambda a: lib(a).where(mask(MASK, a), 0.5, a), ((3, 4),)),
    "masked_fill": Case(lambda a: a.masked_fill(mask([True, False, False, True], a), -1.5),
                        lambda a: a.masked_fill(mask([True, False, False, True], a), -1.5),
                        ((3, 4),), exact=Exact(([1.0, 2.0, 3.0, 4.0],), [-1.5, 2.0, 3.0, -1.5],
                                               ([0, 1, 1, 0],))),
    "masked_fill_broadcast_mask": Case(
        lambda a: a.masked_fill(mask([[[True, False, True, False]], [[False] * 4]], a), 2.0),
        lambda a: a.masked_fill(mask([[[True, False, True, False]], [[False] * 4]], a), 2.0),
        ((3, 4),)),
    "masked_fill_tensor_value": Case(lambda a, v: a.masked_fill(mask(MASK, a), v.sum()),
                                     lambda a, v: a.masked_fill(mask(MASK, a), v.sum()),
                                     ((3, 4), (2,))),
    "maximum": Case(lambda a, b: lib(a).maximum(a, b), lambda a, b: lib(a).maximum(a, b),
                    ((3, 4), (4,)), exact=Exact(([1.0, 2.0, 3.0], [3.0, 2.0, 1.0]),
                                                [3.0, 2.0, 3.0], ([0, 0.5, 1], [1, 0.5, 0]))),
    "minimum": Case(lambda a, b: lib(a).minimum(a, b), lambda a, b: lib(a).minimum(a, b),
                    ((2, 1, 3), (4, 1)), exact=Exact(([1.0, 2.0, 3.0], [3.0, 2.0, 1.0]),
                                                     [1.0, 2.0, 1.0], ([1, 0.5, 0], [0, 0.5, 1]))),
}
