from __future__ import annotations

import zipfile
from io import BytesIO

import numpy as np

from agents.arrays import npz_arrays, npz_bytes


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
