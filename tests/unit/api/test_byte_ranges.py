from __future__ import annotations

import pytest

from api.byte_ranges import UnsatisfiableRange, byte_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=900-5000", (900, 999)),  # the end is clamped to the object
        ("bytes=-10", (990, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=5-4", None),  # backwards: ignored, the whole object
        ("bytes=0-1,5-6", None),  # several ranges: the RFC lets us send it all
        ("items=0-1", None),
        ("bytes=a-b", None),
        ("bytes=", None),
    ],
)
def test_one_range_or_the_whole_object(header: str | None, expected: tuple[int, int] | None) -> None:
    assert byte_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=2000-3000", "bytes=-0"])
def test_a_range_past_the_end_is_unsatisfiable(header: str) -> None:
    with pytest.raises(UnsatisfiableRange):
        byte_range(header, 1000)
