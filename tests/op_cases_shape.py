"""Op table rows: the shape family (see op_case.py for the row types)."""

from op_case import Case, Exact

CASES = {
    # -- shape
    "reshape": Case(lambda a: a.reshape(3, 4), lambda a: a.reshape(3, 4), ((2, 6),)),
    "reshape_infer": Case(lambda a: a.reshape(-1, 2), lambda a: a.reshape(-1, 2), ((2, 6),)),
    "transpose_default": Case(lambda a: a.transpose(), lambda a: a.permute(1, 0), ((3, 4),)),
    "transpose_perm": Case(lambda a: a.transpose(2, 0, 1), lambda a: a.permute(2, 0, 1),
                           ((2, 3, 4),)),
    "T": Case(lambda a: a.T, lambda a: a.T, ((3, 4),), exact=Exact(
        ([[1.0, 2.0, 3.0]],), [[1.0], [2.0], [3.0]], ([[1, 1, 1]],))),
    "flatten": Case(lambda a: a.flatten(1), lambda a: a.flatten(1), ((2, 3, 4),)),
    "index_int": Case(lambda a: a[1], lambda a: a[1], ((3, 4),)),
    "index_slices": Case(lambda a: a[:, 1:3], lambda a: a[:, 1:3], ((3, 4),)),
    "index_slice_1d": Case(lambda a: a[1:], lambda a: a[1:], exact=Exact(
        ([1.0, 2.0, 3.0],), [2.0, 3.0], ([0, 1, 1],))),
    "index_newaxis_step": Case(lambda a: a[None, ::2], lambda a: a[None, ::2], ((4, 3),)),
    "index_ellipsis": Case(lambda a: a[..., 0], lambda a: a[..., 0], ((2, 3, 4),)),
    "index_repeated_ints": Case(lambda a: a[[0, 2, 0]], lambda a: a[[0, 2, 0]], ((3, 4),)),
    "index_repeats_add_up": Case(lambda a: a[[0, 0, 2]], lambda a: a[[0, 0, 2]], exact=Exact(
        ([1.0, 2.0, 3.0],), [1.0, 1.0, 3.0], ([2, 0, 1],))),
    "index_two_int_arrays": Case(lambda a: a[[0, 1, 1], [2, 0, 2]],
                                 lambda a: a[[0, 1, 1], [2, 0, 2]], ((2, 3),)),
    "index_bool_mask": Case(lambda a: a[a > 0], lambda a: a[a > 0], ((3, 4),), "away"),
}
