"""The web app's sign-in: an API key traded for a session cookie, and signing out."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from api import sessions
from api.deps import CallerDep, ServicesDep, authenticate, bearer_token
from api.keys import hash_key
from api.models import Problem

router = APIRouter(prefix="/v1/session", tags=["session"])


class SessionOut(BaseModel):
    key_id: str = Field(description="The API key the session acts as.", examples=["key_3f9a1c2b7d4e"])
    expires_in_s: int = Field(
        description="Seconds the session lasts from sign-in; it also ends with the browser session.",
        examples=[int(sessions.SESSION_TTL.total_seconds())],
    )


@router.post(
    "",
    responses={401: {"model": Problem}},
    summary="Sign in: trade the bearer key for an HttpOnly, SameSite=Strict session cookie",
)
async def sign_in(request: Request, response: Response, svc: ServicesDep, caller: CallerDep) -> SessionOut:
    secret = bearer_token(request)
    if secret is None:  # signed in already, by the session cookie
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "sign in with the key itself: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = await sessions.open_session(svc.redis, hash_key(secret))
    # No Max-Age: the browser drops it when its session ends; Redis ends it after SESSION_TTL at most.
    response.set_cookie(
        sessions.COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return SessionOut(key_id=caller.key_id, expires_in_s=int(sessions.SESSION_TTL.total_seconds()))


class Who(BaseModel):
    key_id: str | None = Field(
        description="The key this request acts as; null when it carries no valid key or session.",
        examples=["key_3f9a1c2b7d4e", None],
    )


@router.get("", summary="Whether this request is signed in, and as which key (never 401)")
async def who(request: Request) -> Who:
    # The page asks this on load; a 401 would be a console error in every browser that is signed out.
    try:
        caller, _ = await authenticate(request)
    except HTTPException as exc:
        if exc.status_code != status.HTTP_401_UNAUTHORIZED:
            raise
        return Who(key_id=None)
    return Who(key_id=caller.key_id)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT, summary="Sign out: end the session and its cookie")
async def sign_out(request: Request, svc: ServicesDep) -> Response:
    token = request.cookies.get(sessions.COOKIE)
    if token:
        await sessions.close_session(svc.redis, token)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(sessions.COOKIE, path="/", httponly=True, samesite="strict")
    return response
