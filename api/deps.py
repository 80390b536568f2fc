"""Route dependencies as ``Annotated`` aliases, so routes read as plain functions."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api import ratelimit
from api.services import Caller, Services

_bearer = HTTPBearer(auto_error=False, description="An API key from `backdrop keys create NAME`.")


async def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]


async def caller(
    response: Response,
    svc: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The request's API key, after its rate limit; 401 without a valid key, 429 over the limit."""
    unauthorized = HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "send 'Authorization: Bearer <key>' with a key from `backdrop keys create NAME`",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized
    found = await svc.caller(credentials.credentials)
    if found is None:
        raise unauthorized
    verdict = await ratelimit.check(svc.redis, found.key_id, found.rate_limit_per_minute)
    response.headers["RateLimit-Limit"] = str(found.rate_limit_per_minute)
    response.headers["RateLimit-Remaining"] = str(verdict.remaining)
    if not verdict.allowed:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"over {found.rate_limit_per_minute} requests per minute for this key; retry after "
            f"{verdict.retry_after_s} s",
            headers={"Retry-After": str(verdict.retry_after_s)},
        )
    return found


CallerDep = Annotated[Caller, Depends(caller)]
