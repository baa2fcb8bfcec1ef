"""IDX reading, dataset lookup and download (never over the network), and the DataLoader."""

import gzip
from pathlib import Path

import numpy as np
import pytest
from conftest import host
from idx_files import idx_bytes, write_dataset, write_idx

from tinygrad_drop import data


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No real data or cache: $TINYGRAD_DROP_DATA, the cache and Debian's folder all in tmp."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("TINYGRAD_DROP_DATA", raising=False)
    monkeypatch.setattr(data, "DEBIAN_ROOT", tmp_path / "debian")
    return tmp_path


@pytest.mark.parametrize("dtype", ["uint8", "int8", ">i2", ">i4", ">f4", ">f8"])
@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_round_trips(dtype, compress, tmp_path):
    array = (np.arange(24) - 5).reshape(2, 3, 4).astype(dtype)
    if dtype == "uint8":
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    read = data.read_idx(write_idx(tmp_path / "a.idx", array, compress))
    assert read.shape == (2, 3, 4) and read.dtype.isnative
    np.testing.assert_array_equal(read, array)


def test_read_idx_rejects_bad_files(tmp_path):
    good = idx_bytes(np.zeros((3, 4), np.uint8))
    cases = {"truncated.idx": (good[:-1], "truncated: header .3, 4. needs 12 bytes of data, "
                                          "found 11"),
             "long.idx": (good + b"\0", "longer than its header says"),
             "magic.idx": (b"\x01\x02" + good[2:], "not an IDX file .magic 0102"),
             "type.idx": (good[:2] + b"\x07" + good[3:], "not an IDX file"),
             "header.idx": (good[:6], "truncated inside its header"),
             "broken.gz": (gzip.compress(good)[:-6], "damaged gzip file")}
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=message):
            data.read_idx(tmp_path / name)


def test_fashion_mnist_from_the_data_folder(isolated, monkeypatch):
    write_dataset(isolated / "mine" / "fashion-mnist")
    monkeypatch.setenv("TINYGRAD_DROP_DATA", str(isolated / "mine"))
    x, y = data.fashion_mnist("train", download=False)
    x_test, y_test = data.fashion_mnist("test", download=False)
    assert x.shape == (300, 784) and x.dtype == np.float32 and y.dtype == np.int64
    assert x_test.shape == (100, 784) and y_test.shape == (100,)
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() == pytest.approx(250 / 255)
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        data.fashion_mnist("validation")


def test_lookup_order_data_folder_then_cache_then_debian(isolated, monkeypatch):
    for where, n in (("mine", 30), ("cache", 40), ("debian", 50)):
        folder = (isolated / where if where != "cache" else isolated / "cache" / "tinygrad_drop")
        write_dataset(folder / "fashion-mnist", n_train=n, n_test=10)
    monkeypatch.setenv("TINYGRAD_DROP_DATA", str(isolated / "mine"))
    assert len(data.fashion_mnist(download=False)[0]) == 30
    monkeypatch.delenv("TINYGRAD_DROP_DATA")
    assert len(data.fashion_mnist(download=False)[0]) == 40
    for path in (isolated / "cache" / "tinygrad_drop" / "fashion-mnist").iterdir():
        path.unlink()
    assert len(data.fashion_mnist(download=False)[0]) == 50


def local_mirror(isolated, md5=None):
    """A dataset 'server' on the local disk (file:// URL): downloads never touch the network."""
    real_md5 = write_dataset(isolated / "mirror")
    return data.DatasetInfo("fashion-mnist", (isolated / "mirror").as_uri() + "/",
                            md5 or real_md5, "dataset-fashion-mnist")


def test_download_verifies_checksums_into_the_cache(isolated, monkeypatch):
    monkeypatch.setattr(data, "FASHION_MNIST", local_mirror(isolated))
    x, _ = data.fashion_mnist("train")
    cached = isolated / "cache" / "tinygrad_drop" / "fashion-mnist"
    assert len(x) == 300 and (cached / "train-images-idx3-ubyte.gz").is_file()
    assert not list(cached.glob(".tmp-*"))


def test_download_with_a_wrong_checksum_keeps_nothing(isolated, monkeypatch):
    bad = dict.fromkeys(data.FASHION_MNIST.md5, "0" * 32)
    monkeypatch.setattr(data, "FASHION_MNIST", local_mirror(isolated, bad))
    with pytest.raises(data.DatasetNotFoundError, match="failed its checksum"):
        data.fashion_mnist("train")
    assert not list((isolated / "cache" / "tinygrad_drop" / "fashion-mnist").iterdir())


def test_absent_and_offline_says_where_it_looked_and_how_to_get_it(isolated, monkeypatch):
    offline = data.DatasetInfo("fashion-mnist", (isolated / "nowhere").as_uri() + "/",
                               data.FASHION_MNIST.md5, "dataset-fashion-mnist")
    monkeypatch.setattr(data, "FASHION_MNIST", offline)
    monkeypatch.setenv("TINYGRAD_DROP_DATA", str(isolated / "mine"))
    with pytest.raises(data.DatasetNotFoundError) as info:
        data.fashion_mnist("train")
    message = str(info.value)
    for expected in ("train-images-idx3-ubyte.gz was not found", "downloading from",
                     str(isolated / "mine" / "fashion-mnist"), str(isolated / "debian"),
                     "apt-get install dataset-fashion-mnist", "$TINYGRAD_DROP_DATA"):
        assert expected in message
    assert "\n  or download " in message
    with pytest.raises(data.DatasetNotFoundError, match="downloading was not allowed") as info:
        data.mnist("test", download=False)
    # MNIST has no Debian package: one way to get it, and no dangling "or"
    assert "To get it:\n  download https://" in str(info.value)
    assert "\n  or" not in str(info.value) and "apt-get" not in str(info.value)


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_from_debian(monkeypatch):
    monkeypatch.delenv("TINYGRAD_DROP_DATA", raising=False)
    x, y = data.fashion_mnist("train", download=False)
    x_test, y_test = data.fashion_mnist("test", download=False)
    assert x.shape == (60_000, 784) and x_test.shape == (10_000, 784)
    assert np.bincount(y).tolist() == [6000] * 10 and np.bincount(y_test).tolist() == [1000] * 10
    assert y[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]  # the dataset's published start
    assert x.min() == 0.0 and x.max() == 1.0


def test_dataloader_batches_cover_every_row_once_per_epoch(backend):
    x = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    y = np.arange(10)
    loader = data.DataLoader(x, y, batch_size=4, seed=3, backend=backend)
    assert len(loader) == 3
    epochs = []
    for _ in range(2):
        batches = list(loader)
        assert [len(b[1]) for b in batches] == [4, 4, 2]
        assert all(xb.backend == backend and xb.shape[1] == 3 for xb, _ in batches)
        seen = np.concatenate([host(yb) for _, yb in batches])
        assert sorted(seen.tolist()) == list(range(10))
        for xb, yb in batches:  # rows stay paired with their labels
            np.testing.assert_array_equal(host(xb)[:, 0], host(yb))
        epochs.append(seen.tolist())
    assert epochs[0] != epochs[1]  # a new order each epoch
    again = data.DataLoader(x, y, batch_size=4, seed=3, backend=backend)
    assert np.concatenate([host(yb) for _, yb in again]).tolist() == epochs[0]
    ordered = data.DataLoader(x, y, batch_size=4, shuffle=False, backend=backend)
    assert np.concatenate([host(yb) for _, yb in ordered]).tolist() == list(range(10))


def test_dataloader_errors():
    with pytest.raises(ValueError, match="10 inputs but 9 targets"):
        data.DataLoader(np.zeros((10, 2)), np.zeros(9), 2)
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        data.DataLoader(np.zeros((10, 2)), np.zeros(10), 0)
    with pytest.raises(ValueError, match="batch_size must be a positive int, got True"):
        data.DataLoader(np.zeros((10, 2)), np.zeros(10), True)
    with pytest.raises(TypeError, match="drop_last must be True or False, got 1"):
        data.DataLoader(np.zeros((10, 2)), np.zeros(10), 2, drop_last=1)
    with pytest.raises(TypeError, match=r"give \(x, y\) arrays or a dataset .* got ndarray"):
        data.DataLoader(np.zeros((10, 2)), batch_size=2)
    with pytest.raises(ValueError, match="unknown backend 'gpu'"):
        data.DataLoader(np.zeros((10, 2)), np.zeros(10), 2, backend="gpu")


def test_dataloader_batches_are_the_same_rows_on_every_backend(backend):
    """Moved to the backend once and cut there, the batches hold exactly the rows the host
    loader cuts (same seed, same order): training on a device sees the CPU's batches."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((37, 5)).astype(np.float32)
    y = rng.integers(0, 10, 37)
    on_host = [(host(a), host(b)) for a, b in data.DataLoader(x, y, 8, seed=4, backend="numpy")]
    on_backend = list(data.DataLoader(x, y, 8, seed=4, backend=backend))
    assert len(on_backend) == len(on_host) == 5
    for (xb, yb), (hx, hy) in zip(on_backend, on_host, strict=True):
        assert xb.dtype == "float32" and yb.dtype == "int64" and xb.backend == backend
        np.testing.assert_array_equal(host(xb), hx)
        np.testing.assert_array_equal(host(yb), hy)
        rows = [int(np.flatnonzero((x == row).all(axis=1))[0]) for row in hx]
        assert rows == sorted(rows)  # increasing within a batch
        np.testing.assert_array_equal(y[rows], hy)


def test_dataloader_takes_tensors_without_a_host_round_trip(backend):
    import tinygrad_drop as td

    x = td.Tensor(np.arange(12.0).reshape(6, 2), backend=backend)
    y = td.Tensor(np.arange(6), backend=backend)
    loader = data.DataLoader(x, y, 4, shuffle=False, backend=backend)
    assert loader.x is x.data  # placed as it is: no copy
    (xb, yb), (xb2, yb2) = list(loader)
    assert host(xb).tolist() == [[0, 1], [2, 3], [4, 5], [6, 7]] and host(yb2).tolist() == [4, 5]
    xb.data[...] = -1  # a batch is its own memory, never a view of the data
    assert host(x)[0, 0] == 0.0


@pytest.mark.parametrize("shuffle", [False, True])
def test_drop_last_leaves_out_the_short_batch(shuffle):
    x, y = np.arange(10.0)[:, None], np.arange(10)
    loader = data.DataLoader(x, y, 4, shuffle=shuffle, seed=0, drop_last=True)
    assert len(loader) == 2
    batches = [host(yb).tolist() for _, yb in loader]
    assert [len(b) for b in batches] == [4, 4] and len(set(sum(batches, []))) == 8
    assert len(data.DataLoader(x, y, 5, drop_last=True)) == 2
    assert len(data.DataLoader(x, y, 11, drop_last=True)) == 0
    assert list(data.DataLoader(x, y, 11, drop_last=True)) == []


def test_dataloader_over_a_dataset_stacks_its_items():
    class Squares:
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return np.array([i, i * i], dtype=np.float32), i % 3

    loader = data.DataLoader(Squares(), batch_size=3, shuffle=False, backend="numpy")
    batches = [(host(xb), host(yb)) for xb, yb in loader]
    assert [len(b[1]) for b in batches] == [3, 3, 1]
    np.testing.assert_array_equal(batches[1][0], [[3, 9], [4, 16], [5, 25]])
    assert batches[1][1].tolist() == [0, 1, 2] and batches[0][0].dtype == np.float32
    shuffled = data.DataLoader(Squares(), batch_size=3, seed=1, drop_last=True)
    rows = sorted(int(v) for xb, _ in shuffled for v in host(xb)[:, 0])
    assert len(rows) == 6 and len(set(rows)) == 6
    pairs = data.DataLoader([(np.ones(2), 1), (np.zeros(2), 0)], batch_size=2, shuffle=False)
    (xb, yb), = list(pairs)
    assert host(xb).tolist() == [[1, 1], [0, 0]] and host(yb).tolist() == [1, 0]
