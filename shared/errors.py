"""One error body for every service: ``{"error": {"code", "message", "details"}}``.

Codes are stable API (documented in docs/errors.md); messages are for people and may change.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("shared.errors")


class ApiError(Exception):
    """An expected failure that the client can act on; raised anywhere, rendered in one shape."""

    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.details = details
        self.headers = headers


class Unauthenticated(ApiError):
    status_code = 401
    code = "unauthenticated"

    def __init__(self, message: str = "需要有效的访问令牌", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kwargs)


class Forbidden(ApiError):
    status_code = 403
    code = "forbidden"


class NotFound(ApiError):
    status_code = 404
    code = "not_found"


class Conflict(ApiError):
    status_code = 409
    code = "conflict"


class Unprocessable(ApiError):
    status_code = 422
    code = "unprocessable"


class DependencyUnavailable(ApiError):
    """Another service we must consult did not answer; we refuse rather than guess."""

    status_code = 503
    code = "dependency_unavailable"


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
}


_STATUS_MESSAGES = {
    400: "请求无效",
    401: "需要有效的访问令牌",
    403: "无权访问",
    404: "资源不存在",
    405: "不支持该请求方法",
    409: "请求与当前状态冲突",
    413: "请求内容过大",
    415: "不支持的内容类型",
    422: "请求参数不合法",
    429: "请求过于频繁",
}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def _clean_validation_errors(errors: list[Any]) -> list[dict[str, Any]]:
    # Pydantic's raw errors may hold the offending input (passwords, keys) and non-JSON objects.
    return [{"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")} for e in errors]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            error_body("validation_error", "请求参数不合法", _clean_validation_errors(list(exc.errors()))),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        # Starlette's own details are English ("Not Found"); users read ours in Chinese.
        message = _STATUS_MESSAGES.get(exc.status_code, code)
        return JSONResponse(
            error_body(code, message), status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(DataError)
    async def _data_error(_: Request, exc: DataError) -> JSONResponse:
        # Input that passed validation but that PostgreSQL refuses (a NUL in a query parameter, a
        # number beyond bigint): the client's data, not our fault, so a 422 rather than a 500.
        log.warning("database refused a value: %s", exc.orig)
        return JSONResponse(error_body("invalid_value", "数据库无法接受提交的值"), status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(error_body("internal_error", "服务器内部错误"), status_code=500)
