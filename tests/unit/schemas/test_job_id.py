"""Job ids are short, URL-safe and unique; background colour names match the CLI's."""

from __future__ import annotations

import re

from PIL import ImageColor

from schemas import JOB_ID_PATTERN, new_job_id
from schemas.colours import COLOUR_NAMES, CSS_COLOURS


def test_new_job_id_is_prefixed_base58_of_fixed_length() -> None:
    job_id = new_job_id()
    assert re.fullmatch(r"job_[1-9A-HJ-NP-Za-km-z]{22}", job_id)
    assert re.fullmatch(JOB_ID_PATTERN, job_id)


def test_new_job_ids_do_not_repeat() -> None:
    assert len({new_job_id() for _ in range(1000)}) == 1000


def test_colour_names_are_the_ones_the_cli_accepts() -> None:
    assert frozenset(ImageColor.colormap) == COLOUR_NAMES


def test_colour_values_are_pillows() -> None:
    assert {name: ImageColor.getrgb(name)[:3] for name in COLOUR_NAMES} == CSS_COLOURS
