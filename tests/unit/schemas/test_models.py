from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from agents.segment.registry import builtin_registry, serving_registry
from base.settings import Settings
from schemas.models import BUILTIN_MODELS, DEFAULT_MODEL, UnknownModel, check_model, served_models


def _card(tmp_path: Path, **fields: object) -> Path:
    (tmp_path / "u2net.onnx").write_bytes(b"not read here")
    card = tmp_path / "u2net.json"
    card.write_bytes(orjson.dumps({"path": "u2net.onnx", "input_size": [320, 320], **fields}))
    return card


def test_the_default_list_serves_both_builtins_with_their_licence() -> None:
    served = served_models("selfie,selfie-landscape")
    assert list(served) == ["selfie", "selfie-landscape"]
    assert served[DEFAULT_MODEL].default
    assert {card.licence for card in served.values()} == {"Apache-2.0"}
    assert served["selfie-landscape"].input_size == (144, 256)


def test_a_card_is_served_under_its_name_and_the_workers_load_the_same(tmp_path: Path) -> None:
    card = _card(tmp_path, name="u2net", licence="Apache-2.0", description="salient objects")
    served = served_models(f"selfie, {card}")
    assert served["u2net"].input_size == (320, 320)
    assert served["u2net"].licence == "Apache-2.0"
    registry = serving_registry(f"selfie, {card}")
    assert registry.names() == sorted(served)
    assert registry.get("u2net").input_size == (320, 320)
    assert registry.get("u2net").source == "onnx"


def test_a_card_without_a_licence_says_so(tmp_path: Path) -> None:
    assert "unknown" in served_models(str(_card(tmp_path)))["u2net"].licence


@pytest.mark.parametrize(
    ("entries", "message"),
    [("selfie,nope", "neither a built-in model"), ("missing.json", "cannot read the model card")],
)
def test_a_wrong_list_says_what_is_wrong(entries: str, message: str) -> None:
    with pytest.raises(UnknownModel, match=message):
        served_models(entries)


def test_an_unserved_model_is_refused_with_the_served_ones() -> None:
    served = {"selfie": BUILTIN_MODELS["selfie"]}
    check_model("selfie", served)
    with pytest.raises(UnknownModel, match="choose one of: selfie"):
        check_model("selfie-landscape", served)


def test_every_builtin_has_a_spec_and_only_the_bundled_ones_are_served_by_default() -> None:
    registry = builtin_registry()
    assert registry.names() == sorted(BUILTIN_MODELS)
    for name, card in BUILTIN_MODELS.items():
        assert registry.get(name).input_size == card.input_size, name
    default_served = served_models(Settings.model_fields["models"].default)
    assert all(not card.install for card in default_served.values())
    assert BUILTIN_MODELS["isnet"].licence == "AGPL-3.0-only"
    assert BUILTIN_MODELS["isnet"].install == "backdrop models fetch isnet"
