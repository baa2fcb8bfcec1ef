"""td.load on crafted, corrupt and hostile .npz files: every one is a ``load:`` error naming
the file (ValueError unless the docstring says otherwise), and nothing is allocated beyond what
the file can justify."""

import io
import re
import struct
import zipfile

import numpy as np
import pytest

import tinygrad_drop as td
from tinygrad_drop import serialization


def npy(header=None, data=b"", array=None):
    """A .npy member: ``array`` written by NumPy, or the raw ``header`` dict and ``data``."""
    out = io.BytesIO()
    if array is not None:
        np.lib.format.write_array(out, array, allow_pickle=False)
    else:
        np.lib.format.write_array_header_1_0(out, header)
        out.write(data)
    return out.getvalue()


def archive(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, payload in members:
            z.writestr(name, payload)
    return path


def refused(path, pattern, kind=ValueError, **kw):
    with pytest.raises(kind, match="^load: " + re.escape(repr(str(path)))) as info:
        td.load(path, **kw)
    assert info.match(pattern)


GOOD = npy(array=np.arange(6, dtype=np.float32).reshape(2, 3))


def header(descr="<f8", shape=(3,)):
    return {"descr": descr, "fortran_order": False, "shape": shape}


@pytest.mark.parametrize("head, data, message", [
    (header("|V0", (10**15,)), b"", r"dtype '\|V0' has elements of zero bytes"),
    (header("|V0"), b"", r"dtype '\|V0' has elements of zero bytes"),
    (header("|S0"), b"", r"dtype .* has elements of zero bytes"),
    (header("<U0"), b"", r"dtype .* has elements of zero bytes"),
    (header(shape=(1,) * 70), b"\0" * 8, "header declares 70 dimensions; arrays have at most 64"),
    (header(shape=(0, 2**63)), b"",
     r"header declares shape \(0, 9223372036854775808\) of float64, larger than any array"),
    (header(shape=(0, 2**70)), b"", "header declares .* larger than any array can be"),
    (header(shape=(2**40, 0, 2**40)), b"", "header declares .* larger than any array can be"),
    (header(shape=(True,)), b"\0" * 8, r"header declares shape \(True,\); dimensions must"),
    (header(shape=(-1,)), b"", r"header declares shape \(-1,\); dimensions must be non-"),
])
def test_headers_no_array_can_have_are_load_errors(tmp_path, head, data, message):
    """Bug: NumPy's own errors ('itemsize cannot be zero', 'Maximum allowed dimension
    exceeded', 'an integer is required') came through raw."""
    path = archive(tmp_path / "bad.npz", [("w.npy", npy(head, data))])
    refused(path, r"has an unreadable entry 'w': its " + message)


def test_a_corrupt_deflate_stream_is_a_load_error(tmp_path):
    path = archive(tmp_path / "deflate.npz", [("w.npy", GOOD * 50)], zipfile.ZIP_DEFLATED)
    raw = bytearray(path.read_bytes())
    start = raw.find(b"w.npy") + len("w.npy") + 10
    raw[start:start + 30] = bytes(b ^ 0xFF for b in raw[start:start + 30])
    path.write_bytes(bytes(raw))
    refused(path, "is not a readable .npz state dict: Error -3 while decompressing")


def patch_both_headers(path, offset, fmt, value):
    """Overwrite a field of the (first) local header and of its central-directory entry;
    ``offset`` counts from the local header's start (the central entry's is 2 bytes later)."""
    raw = bytearray(path.read_bytes())
    central = raw.find(b"PK\x01\x02")
    struct.pack_into(fmt, raw, offset, value)
    struct.pack_into(fmt, raw, central + offset + 2, value)
    path.write_bytes(bytes(raw))


def test_encrypted_members_and_unknown_compression_are_load_errors(tmp_path):
    """Bug: zipfile's RuntimeError ('password required') and NotImplementedError came through."""
    path = archive(tmp_path / "encrypted.npz", [("w.npy", GOOD)])
    raw = bytearray(path.read_bytes())
    raw[6] |= 1
    raw[raw.find(b"PK\x01\x02") + 8] |= 1  # the general-purpose flag's encryption bit
    path.write_bytes(bytes(raw))
    refused(path, "has an encrypted member 'w.npy'; td.load reads only unencrypted archives")
    path = archive(tmp_path / "method.npz", [("w.npy", GOOD)])
    patch_both_headers(path, 8, "<H", 99)
    refused(path, "member 'w.npy' compressed with method 99, which td.load cannot read "
                  r"\(it reads stored, deflate, bzip2, lzma\)")


def test_a_directory_is_a_load_error_naming_it(tmp_path):
    refused(tmp_path, "is a directory, not an .npz file", IsADirectoryError)


def zeros_archive(path, megabytes, compression=zipfile.ZIP_DEFLATED):
    count = megabytes * 2**20 // 8
    head = npy(header(shape=(count,)))
    with zipfile.ZipFile(path, "w", compression) as z, z.open("w.npy", "w") as f:
        f.write(head)
        for _ in range(megabytes):
            f.write(b"\0" * 2**20)
    return path


def test_a_zip_bomb_is_refused_before_anything_is_allocated(tmp_path, monkeypatch):
    """Bug: an 815 KB file declaring 800 MB of zeros was decompressed in full (a raw
    MemoryError under a memory cap). The guard is scaled down here: archives over 1 MiB may
    declare at most max_ratio (100) times the file's size."""
    monkeypatch.setattr(serialization, "RATIO_FREE", 2**20)
    path = zeros_archive(tmp_path / "bomb.npz", 2)
    assert path.stat().st_size < 2**20 / 100
    refused(path, r"declares 2097280 bytes of arrays in a file of \d+ bytes \(\d+ times larger; "
                  r"the limit is max_ratio=100 above 1 MiB\), as a zip bomb would; if you trust "
                  "the file, pass max_ratio=None")
    trusted = td.load(path, max_ratio=None)
    assert trusted["w"].shape == (2**18,) and not trusted["w"].any()
    weights = np.random.default_rng(0).standard_normal(2**18)  # compresses about 1.1 times
    np.savez_compressed(tmp_path / "weights.npz", w=weights)
    np.testing.assert_array_equal(td.load(tmp_path / "weights.npz")["w"], weights)
    monkeypatch.setattr(serialization, "RATIO_FREE", 2**22)  # under the floor: any ratio
    assert not td.load(path)["w"].any()


def test_entries_claiming_more_data_than_the_file_holds_are_refused(tmp_path):
    path = archive(tmp_path / "forged.npz", [("w.npy", GOOD)])
    patch_both_headers(path, 18, "<I", 10**9)  # compressed size
    refused(path, r"its members claim 1000000000 bytes of data but the file holds \d+ "
                  r"\(overlapping or forged entries\)")


def test_data_past_the_declared_size_is_never_read(tmp_path):
    """The zip entry declares the .npy header plus 24 bytes; the deflate stream holds 64 KiB
    more. Reading stops at the declared size, and the CRC (of the whole stream) then fails."""
    payload = npy(header(shape=(3,)), b"\0" * 24)
    path = archive(tmp_path / "longer.npz", [("w.npy", payload + b"\0" * 2**16)],
                   zipfile.ZIP_DEFLATED)
    patch_both_headers(path, 22, "<I", len(payload))  # uncompressed size
    refused(path, "is not a readable .npz state dict: Bad CRC-32 for file 'w.npy'")


def test_running_out_of_memory_is_a_load_error_naming_the_entry(tmp_path, monkeypatch):
    class Exhausted(bytearray):
        def __iadd__(self, other):
            raise MemoryError

    monkeypatch.setattr(serialization, "bytearray", Exhausted, raising=False)
    path = archive(tmp_path / "ok.npz", [("w.npy", GOOD)])
    refused(path, r"not enough memory for entry 'w' \(24 bytes of float32\)", MemoryError)
