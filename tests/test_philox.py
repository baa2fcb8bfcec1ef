"""Philox4x32-10 on the host: the definition of the CuPy backend's dropout stream, and the NumPy
generator that draws the same masks.

Statistical bounds are 5 standard deviations (false-failure probability below 6e-7 each).
"""

import math

import numpy as np
import pytest

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop import Tensor
from tinygrad_drop.backends import philox
from tinygrad_drop.backends.generator import keep_threshold

# Known answers from the Random123 distribution's kat_vectors (philox4x32, 10 rounds):
# counter, key, result.
KNOWN_ANSWERS = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("counter, key, expected", KNOWN_ANSWERS)
def test_philox4x32_10_matches_random123_known_answers(counter, key, expected):
    assert tuple(int(v) for v in philox.philox4x32(np.array(counter), key)) == expected


def test_philox4x32_is_vectorised_over_leading_axes():
    counters = np.array([c for c, _, _ in KNOWN_ANSWERS[:1]] * 6).reshape(2, 3, 4)
    out = philox.philox4x32(counters, (0, 0))
    assert out.shape == (2, 3, 4) and out.dtype == np.uint32
    assert (out == np.array(KNOWN_ANSWERS[0][2], dtype=np.uint32)).all()


def test_philox4x32_rejects_a_counter_that_is_not_four_words():
    with pytest.raises(ValueError, match=r"\(\.\.\., 4\).*\(3,\)"):
        philox.philox4x32(np.zeros(3), (0, 0))


def test_element_i_uses_word_i_mod_4_of_its_group_with_the_64_bit_seed_and_offset_split():
    seed, offset = 0x0123456789ABCDEF, 0xFEDCBA9876543210
    words = philox.dropout_words(seed, offset, 4 * 5 + 2)
    for group in (0, 3, 5):
        counter = np.array([group, 0, offset & 0xFFFFFFFF, offset >> 32], dtype=np.uint32)
        expected = philox.philox4x32(counter, (seed & 0xFFFFFFFF, seed >> 32))
        got = words[4 * group:4 * group + 4]
        np.testing.assert_array_equal(got, expected[:got.size])
    assert words.size == 22


def test_the_group_index_carries_into_the_counters_second_word():
    group, seed, offset = 2 ** 32 + 7, 5, 9
    expected = philox.philox4x32(np.array([7, 1, 9, 0], dtype=np.uint32), (5, 0))
    np.testing.assert_array_equal(philox.group_words(seed, offset, [group])[0], expected)
    words = philox.dropout_words(seed, offset, 12)
    np.testing.assert_array_equal(philox.group_words(seed, offset, [0, 1, 2]).reshape(-1), words)


@pytest.mark.parametrize("keep", [0.999, 0.8, 0.5, 0.1, 0.001])
def test_mask_keeps_each_element_with_probability_keep(keep):
    n = 1 << 20
    mask = philox.dropout_mask(11, 3, (n,), keep)
    sigma = math.sqrt(keep * (1 - keep) / n)
    assert abs(mask.mean() - keep) < 5 * sigma


def test_masks_at_neighbouring_offsets_and_seeds_are_independent():
    keep, n = 0.5, 1 << 20
    base = philox.dropout_mask(1, 0, (n,), keep)
    sigma = math.sqrt(0.25 / n)
    for other in (philox.dropout_mask(1, 1, (n,), keep), philox.dropout_mask(2, 0, (n,), keep)):
        assert abs((base == other).mean() - 0.5) < 5 * sigma  # independent: agree half the time


def test_neighbouring_elements_are_independent():
    n, keep = 1 << 20, 0.5
    mask = philox.dropout_mask(4, 0, (n,), keep).astype(np.int8)
    sigma = math.sqrt(0.25 / n)
    for lag in (1, 2, 3, 4, 5):  # inside a group of four and across groups
        assert abs((mask[lag:] == mask[:-lag]).mean() - 0.5) < 5 * sigma


def test_keep_of_one_and_zero_need_no_random_bits():
    assert philox.dropout_mask(0, 0, (3, 2), 1.0).all()
    assert not philox.dropout_mask(0, 0, (3, 2), 0.0).any()


def test_threshold_gives_keep_within_two_to_the_minus_33_and_never_keeps_always():
    for keep in (1e-9, 0.2, 0.5, 0.8, 1 - 1e-9):
        assert abs(keep_threshold(keep) / 2 ** 32 - keep) <= 2 ** -33
    assert keep_threshold(1 - 1e-12) == 2 ** 32 - 1  # the largest threshold a u32 can hold


# -- the generator ------------------------------------------------------------------------------
def test_philox_generator_draws_the_stream_advancing_the_offset_per_draw():
    gen = philox.PhiloxGenerator(42)
    first, second = gen.bernoulli_mask((8, 16), 0.7), gen.bernoulli_mask((8, 16), 0.7)
    np.testing.assert_array_equal(first, philox.dropout_mask(42, 0, (8, 16), 0.7))
    np.testing.assert_array_equal(second, philox.dropout_mask(42, 1, (8, 16), 0.7))
    assert gen.offset == 2 and not (first == second).all()
    gen.manual_seed(42)
    assert gen.offset == 0
    np.testing.assert_array_equal(gen.bernoulli_mask((8, 16), 0.7), first)


def test_philox_generator_uniform_and_normal_are_reproducible():
    a, b = philox.PhiloxGenerator(3), philox.PhiloxGenerator(3)
    np.testing.assert_array_equal(a.uniform((5,), np.float32), b.uniform((5,), np.float32))
    np.testing.assert_array_equal(a.normal((5,), np.float64), b.normal((5,), np.float64))
    u = philox.PhiloxGenerator(3).uniform((1000,), np.float64)
    assert u.dtype == np.float64 and 0 <= u.min() and u.max() < 1


@pytest.mark.parametrize("bad", [-1, 2 ** 64, 1.5, "7", True])
def test_philox_seed_must_be_an_int_in_64_bits(bad):
    with pytest.raises(ValueError, match=r"\[0, 2\*\*64\).*" + repr(bad).replace("'", ".")):
        philox.PhiloxGenerator(bad)


def test_dropout_with_a_philox_generator_on_numpy_is_x_times_the_streams_mask_over_keep():
    x = Tensor(np.random.default_rng(0).standard_normal((64, 33)).astype(np.float32),
               backend="numpy", requires_grad=True)
    y = F.dropout(x, 0.3, generator=philox.PhiloxGenerator(9))
    mask = philox.dropout_mask(9, 0, (64, 33), 0.7)
    np.testing.assert_array_equal(y.grad_fn.mask(), mask)
    np.testing.assert_array_equal(y.numpy(), np.where(mask, x.numpy() / np.float32(0.7), 0))
    y.backward(Tensor.ones(64, 33, backend="numpy"))
    np.testing.assert_array_equal(x.grad.numpy(), np.where(mask, 1 / np.float32(0.7), 0))


def test_a_philox_generator_is_refused_by_a_backend_whose_arrays_it_does_not_make():
    x = Tensor.ones(4, 4, backend="strict")
    with pytest.raises(TypeError, match="ndarray masks, not 'strict' arrays"):
        F.dropout(x, 0.5, generator=philox.PhiloxGenerator(0))


def test_td_generator_on_numpy_is_unaffected():
    assert not isinstance(td.generator(0, backend="numpy"), philox.PhiloxGenerator)
