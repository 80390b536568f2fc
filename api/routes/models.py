"""The segmentation models a job may name."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CallerDep, ServicesDep
from schemas.models import ModelCard

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get("", summary="The models this deployment serves, with input size and licence")
async def models(svc: ServicesDep, caller: CallerDep) -> list[ModelCard]:
    return sorted(svc.models.values(), key=lambda card: (not card.default, card.name))
