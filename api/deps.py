"""Route dependencies as ``Annotated`` aliases, so routes read as plain functions."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api import ratelimit, sessions
from api.services import Caller, Services

_bearer = HTTPBearer(auto_error=False, description="An API key from `backdrop keys create NAME`.")


async def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]


async def authenticate(request: Request) -> tuple[Caller, ratelimit.Verdict]:
    """The request's API key and its rate-limit verdict; 401 without a valid key, 429 over the limit (a
    client address that keeps sending no key or a wrong one has a limit of its own). Once per request:
    a route that checks before reading its body (`api.routes.uploads`) and the dependency share it."""
    done: tuple[Caller, ratelimit.Verdict] | None = getattr(request.state, "authenticated", None)
    if done is not None:
        return done
    svc: Services = request.app.state.services
    found = await _bearer_caller(svc, request) or await _session_caller(svc, request)
    if found is None:
        address = request.client.host if request.client else "unknown"
        limit = svc.settings.unauthenticated_per_minute
        verdict = await svc.limiter.check(f"address:{address}", limit)
        if not verdict.allowed:
            raise _too_many(
                f"over {limit} requests per minute without a valid key from this address", verdict
            )
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "send 'Authorization: Bearer <key>' with a key from `backdrop keys create NAME` (or sign in "
            "on the web app at /)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    verdict = await svc.limiter.check(found.key_id, found.rate_limit_per_minute)
    if not verdict.allowed:
        raise _too_many(f"over {found.rate_limit_per_minute} requests per minute for this key", verdict)
    request.state.authenticated = (found, verdict)
    return found, verdict


def bearer_token(request: Request) -> str | None:
    """The key an ``Authorization: Bearer`` header carries, if it carries one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _bearer_caller(svc: Services, request: Request) -> Caller | None:
    token = bearer_token(request)
    return await svc.caller(token) if token else None


async def _session_caller(svc: Services, request: Request) -> Caller | None:
    """The key behind the web app's session cookie; never for a request another site's page made."""
    token = request.cookies.get(sessions.COOKIE)
    if not token or request.headers.get("sec-fetch-site") in sessions.FOREIGN_SITES:
        return None
    key_hash = await sessions.session_key_hash(svc.redis, token)
    return await svc.caller_by_hash(key_hash) if key_hash else None


def _too_many(what: str, verdict: ratelimit.Verdict) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        f"{what}; retry after {verdict.retry_after_s} s",
        headers={"Retry-After": str(verdict.retry_after_s)},
    )


async def caller(
    request: Request,
    response: Response,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The request's API key, after its rate limit (``credentials`` puts the scheme in the OpenAPI page;
    ``authenticate`` reads the header itself)."""
    found, verdict = await authenticate(request)
    response.headers["RateLimit-Limit"] = str(found.rate_limit_per_minute)
    response.headers["RateLimit-Remaining"] = str(verdict.remaining)
    return found


CallerDep = Annotated[Caller, Depends(caller)]
