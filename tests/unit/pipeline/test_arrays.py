from __future__ import annotations

import zipfile
from io import BytesIO

import lz4.frame
import numpy as np
import pytest

from agents.workers.arrays import npz_arrays, npz_bytes
from base.errors import InternalError


def test_arrays_round_trip_deflated_or_stored() -> None:
    alpha = np.zeros((2, 32, 48), np.uint8)
    alpha[:, 8:24, 10:30] = 255
    colours = np.arange(300, dtype=np.uint8).reshape(100, 3)
    data = npz_bytes({"alpha": alpha, "colours": colours}, stored=("colours",))
    back = npz_arrays(data)
    assert np.array_equal(back["alpha"], alpha)
    assert np.array_equal(back["colours"], colours)
    with zipfile.ZipFile(BytesIO(data)) as archive:
        kinds = {info.filename: info.compress_type for info in archive.infolist()}
    assert kinds == {"alpha.npy": zipfile.ZIP_DEFLATED, "colours.npy": zipfile.ZIP_STORED}
    assert len(data) < alpha.nbytes // 4 + colours.nbytes + 1000


def test_lz4_members_round_trip_and_stay_npy_files() -> None:
    alpha = np.zeros((3, 40, 64), np.uint8)
    alpha[:, 10:30, 5:50] = 255
    alpha[:, 9, 5:50] = 128
    colours = np.arange(150, dtype=np.uint8).reshape(50, 3)
    probs = np.linspace(0, 1, 2 * 8 * 8, dtype=np.float16).reshape(2, 8, 8)
    data = npz_bytes({"alpha": alpha, "colours": colours, "probs": probs}, fast=("alpha", "colours"))
    back = npz_arrays(data)
    for name, array in (("alpha", alpha), ("colours", colours), ("probs", probs)):
        assert back[name].dtype == array.dtype
        assert np.array_equal(back[name], array)
    with zipfile.ZipFile(BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == ["alpha.npy.lz4", "colours.npy.lz4", "probs.npy"]
        # Any LZ4 tool unpacks a member into a plain .npy file.
        npy = lz4.frame.decompress(archive.read("alpha.npy.lz4"))
    assert np.array_equal(np.load(BytesIO(npy)), alpha)
    assert len(data) < alpha.nbytes // 4 + colours.nbytes + probs.nbytes + 1000


def test_an_lz4_member_of_objects_is_refused() -> None:
    npy = BytesIO()
    np.save(npy, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    archive = BytesIO()
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("evil.npy.lz4", lz4.frame.compress(npy.getvalue()))
    with pytest.raises(InternalError, match="objects"):
        npz_arrays(archive.getvalue())
