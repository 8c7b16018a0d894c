"""The app's boundary with browsers and other clients: which requests get in, and in what shape.

:class:`Boundary` holds the settings and assembles the middleware :func:`~streamflow.server.app.create_app`
puts in front of the routes, outermost first:

1. **Security headers** on every answer (:class:`SecurityHeadersMiddleware`): ``X-Content-Type-Options:
   nosniff``, ``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer``, ``Cross-Origin-Opener-Policy`` and
   ``Cross-Origin-Resource-Policy: same-origin``, and a ``Content-Security-Policy`` (the page sends its own,
   allowing its inline script and style by their hashes and fetches to its own origin only; every other
   answer ``default-src 'none'; frame-ancestors 'none'``).
2. **Trusted hosts** (Starlette's ``TrustedHostMiddleware``): a request whose ``Host`` header is not in
   ``allowed_hosts`` is answered 400 ``Invalid host header`` (plain text, Starlette's answer), so a page on a
   DNS-rebinding domain cannot reach an app listening on loopback. The default, :data:`DEFAULT_ALLOWED_HOSTS`,
   is the loopback names; a deployment lists its own names (``"*.example.com"`` patterns work, ``"*"`` trusts
   any host).
3. **CORS** (Starlette's ``CORSMiddleware``), only when ``cors`` is given (its keyword arguments:
   ``{"allow_origins": ["https://app.example"], "allow_methods": ["GET", "POST"], "allow_headers":
   ["content-type"]}``). Off by default: a page of another origin can neither read an answer nor send the
   preflight a JSON ``POST`` needs.
4. **Cross-origin writes and content type** (:class:`RequestGuardMiddleware`): a ``POST`` (or any method
   other than ``GET``, ``HEAD``, ``OPTIONS``) that a browser marks as coming from another origin
   (``Sec-Fetch-Site`` other than ``same-origin``/``none``, or, from browsers that do not send it, an
   ``Origin`` whose host differs from ``Host``) is answered 403 ``CrossOriginRequest`` unless its origin is
   one CORS allows; requests without those headers (``curl``, ``httpx``, servers) are not browsers' and pass.
   A request body must be ``application/json`` (``+json`` types too): any other content type, such as the
   ``text/plain`` or form bodies a page may send to another site without asking, is answered 415
   ``UnsupportedMediaType``. A ``POST`` with no body (``/runs/{run_id}/cancel``) needs no content type.

Request bodies are parsed by :func:`parse_json`: valid UTF-8 JSON only, no ``NaN``/``Infinity`` (nor numbers
too large for a float), no lone surrogate (``"\\ud800"``, text no UTF-8 encoder can write back), and nested at
most ``max_json_depth`` levels (:data:`DEFAULT_MAX_JSON_DEPTH`); each refusal is a 400 ``InvalidJSON`` naming
where the problem is. Ids a client chooses (a run's ``config.run_id``, a thread's ``thread_id``) must match
:data:`ID_RULE` (:func:`check_id`; 422 ``InvalidBody`` otherwise), so every run and thread can be named in a URL
and written to a log, a JSON answer or a Redis key as it is.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import attrs
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import InvalidArgumentError, RequestRejectedError
from .errors import error_response

__all__ = [
    "DEFAULT_ALLOWED_HOSTS",
    "DEFAULT_MAX_JSON_DEPTH",
    "ID_RULE",
    "MAX_ID_LENGTH",
    "PAGE_CSP",
    "Boundary",
    "RequestGuardMiddleware",
    "SecurityHeadersMiddleware",
    "check_config_ids",
    "check_id",
    "page_csp",
    "parse_json",
    "read_json",
]

DEFAULT_ALLOWED_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "[::1]", "testserver")
"""The ``Host`` names trusted by default: loopback, and ``testserver`` (Starlette's ``TestClient``)."""
DEFAULT_MAX_JSON_DEPTH = 64
"""How deeply a request body's arrays and objects may nest by default (levels; ``{"a": [1]}`` is 2)."""
MAX_ID_LENGTH = 128
"""The longest run or thread id a client may choose, in characters."""
ID_RULE = re.compile(f"[A-Za-z0-9][A-Za-z0-9._~:-]{{0,{MAX_ID_LENGTH - 1}}}")
"""A run or thread id a client chooses: 1 to :data:`MAX_ID_LENGTH` ASCII letters, digits, ``.``, ``_``,
``~``, ``:`` and ``-``, starting with a letter or digit (a UUID fits; ``/``, spaces and non-ASCII do not)."""
PAGE_CSP = (
    "default-src 'none'; script-src {script}; style-src {style}; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""The web page's ``Content-Security-Policy`` (``{script}``/``{style}``: the hashes of its inline blocks)."""
_API_CSP = "default-src 'none'; frame-ancestors 'none'"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SAME = frozenset({"same-origin", "none"})
_SURROGATE = re.compile("[\ud800-\udfff]")
_SECURITY_HEADERS = (
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
)
_CORS_OPTIONS = frozenset(inspect.signature(CORSMiddleware.__init__).parameters) - {"self", "app"}


def _hosts(value: Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _is_depth(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@attrs.frozen
class Boundary:
    """The settings of the app's boundary (see the module docstring for what each does).

    :raises InvalidArgumentError: for an ``allowed_hosts`` that is empty or holds a bad pattern (only
        ``"*.domain"`` wildcards, or ``"*"``), a ``cors`` with keys ``CORSMiddleware`` does not take, an
        ``allow_origins`` that is not a list of strings or an ``allow_origin_regex`` that does not compile, or a
        ``max_json_depth`` that is not a positive int
    """

    allowed_hosts: tuple[str, ...] = attrs.field(default=DEFAULT_ALLOWED_HOSTS, converter=_hosts)
    """``Host`` names the app answers (``"*.example.com"`` patterns; ``"*"`` for any)."""
    cors: Mapping[str, Any] | None = None
    """Keyword arguments of Starlette's ``CORSMiddleware`` (``allow_origins`` ...); None: CORS off."""
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH
    """How deeply a request body may nest, in levels of arrays and objects."""
    security_headers: bool = True
    """Whether answers carry the security headers (off when a proxy in front sets its own)."""

    def __attrs_post_init__(self) -> None:
        hosts = self.allowed_hosts
        if not hosts or not all(isinstance(h, str) and h for h in hosts):
            raise InvalidArgumentError(f"allowed_hosts must be a non-empty list of host names, got {hosts!r}")
        for host in hosts:
            if "*" in host[1:] or (host.startswith("*") and host != "*" and not host.startswith("*.")):
                raise InvalidArgumentError(
                    f"allowed_hosts entry {host!r} is not a host name: wildcards are '*.domain' or '*' alone"
                )
        if self.cors is not None:
            if not isinstance(self.cors, Mapping):
                raise InvalidArgumentError(f"cors must be a mapping of CORSMiddleware options, got {self.cors!r}")
            unknown = sorted(set(self.cors) - _CORS_OPTIONS)
            if unknown:
                raise InvalidArgumentError(
                    f"cors has options {unknown} CORSMiddleware does not take; allowed: {sorted(_CORS_OPTIONS)}"
                )
            origins = self.cors.get("allow_origins", ())
            if isinstance(origins, str) or not all(isinstance(o, str) for o in origins):
                raise InvalidArgumentError(f"cors['allow_origins'] must be a list of origins, got {origins!r}")
            regex = self.cors.get("allow_origin_regex")
            try:
                re.compile(regex or "")
            except (re.error, TypeError) as exc:
                raise InvalidArgumentError(f"cors['allow_origin_regex'] is not a regular expression: {exc}") from None
        if not _is_depth(self.max_json_depth):
            raise InvalidArgumentError(f"max_json_depth must be a positive int, got {self.max_json_depth!r}")

    def trusted_origins(self) -> tuple[frozenset[str], re.Pattern[str] | None, bool]:
        """The origins CORS allows: ``(exact origins, origin regex or None, any origin)``."""
        cors = self.cors or {}
        origins = frozenset(cors.get("allow_origins", ()))
        regex = cors.get("allow_origin_regex")
        return origins - {"*"}, re.compile(regex) if regex else None, "*" in origins

    def middleware(self) -> list[Middleware]:
        """The middleware for ``Starlette(middleware=...)``, outermost first."""
        stack: list[Middleware] = []
        if self.security_headers:
            stack.append(Middleware(SecurityHeadersMiddleware))
        if "*" not in self.allowed_hosts:
            stack.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(self.allowed_hosts)))
        if self.cors is not None:
            stack.append(Middleware(CORSMiddleware, **self.cors))
        origins, regex, any_origin = self.trusted_origins()
        stack.append(Middleware(RequestGuardMiddleware, origins=origins, origin_regex=regex, any_origin=any_origin))
        return stack


class SecurityHeadersMiddleware:
    """Adds the security headers (module docstring) to every HTTP answer that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _SECURITY_HEADERS:
                    if name not in headers:
                        headers[name] = value
                if "content-security-policy" not in headers:
                    headers["content-security-policy"] = _API_CSP
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _origin_host(origin: str) -> str | None:
    try:
        parts = urlsplit(origin)
    except ValueError:
        return None
    return parts.netloc.lower() if parts.scheme in ("http", "https") and parts.netloc else None


class RequestGuardMiddleware:
    """Refuses cross-origin writes from browsers (403) and request bodies that are not JSON (415), and a
    browser's WebSocket opened from another origin (closed before it is accepted, which the server answers
    with 403): a WebSocket carries commands, so it is a write.

    :param origins: origins whose writes are allowed (CORS's ``allow_origins``)
    :param origin_regex: a pattern of such origins (CORS's ``allow_origin_regex``)
    :param any_origin: allow writes from every origin (CORS's ``allow_origins=["*"]``)
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        origins: Iterable[str] = (),
        origin_regex: re.Pattern[str] | None = None,
        any_origin: bool = False,
    ) -> None:
        self.app = app
        self.origins = frozenset(origins)
        self.origin_regex = origin_regex
        self.any_origin = any_origin

    def _trusted(self, origin: str | None) -> bool:
        if origin is None:
            return False
        if self.any_origin or origin in self.origins:
            return True
        return self.origin_regex is not None and self.origin_regex.fullmatch(origin) is not None

    def _cross_origin(self, headers: Headers) -> str | None:
        """Why the request is a browser's cross-origin one (None when it is not, or is trusted)."""
        origin = headers.get("origin")
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site is not None:
            if fetch_site.lower() in _SAME or self._trusted(origin):
                return None
            return f"the browser marks it Sec-Fetch-Site: {fetch_site} (origin {origin or 'not sent'})"
        if origin is None:
            return None  # not a browser's request (browsers send Origin on every POST)
        if _origin_host(origin) == headers.get("host", "").lower() or self._trusted(origin):
            return None
        return f"its Origin {origin} is not this app's ({headers.get('host', 'no Host')})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and self._cross_origin(Headers(scope=scope)) is not None:
            await send({"type": "websocket.close", "code": 4403, "reason": "cross-origin WebSocket refused"})
            return
        if scope["type"] != "http" or scope["method"] in _SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        why = self._cross_origin(headers)
        if why is not None:
            response = error_response(
                403,
                "CrossOriginRequest",
                f"{scope['method']} {scope['path']} from another origin is refused: {why}; the app takes writes "
                "from its own origin, from clients that are not browsers, and from origins its CORS settings allow",
            )
            await response(scope, receive, send)
            return
        has_body = headers.get("content-length", "0").strip() not in ("0", "") or "transfer-encoding" in headers
        if has_body:
            media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
            if media_type != "application/json" and not (
                media_type.startswith("application/") and media_type.endswith("+json")
            ):
                response = error_response(
                    415,
                    "UnsupportedMediaType",
                    f"a request body must be JSON sent as Content-Type: application/json, got "
                    f"{headers.get('content-type') or 'no Content-Type'}",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# -- bodies and ids ------------------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise RequestRejectedError(
        400, "InvalidJSON", f"the request body is not valid JSON: {name} is not a number JSON has (no NaN, Infinity)"
    )


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise RequestRejectedError(
            400, "InvalidJSON", f"the request body holds the number {text[:40]}, too large for a float"
        )
    return value


def _where(path: Sequence[Any]) -> str:
    return "the body" + "".join(f"[{key!r}]" for key in path)


def _surrogate(text: str) -> str | None:
    if text.isascii():
        return None
    found = _SURROGATE.search(text)
    return None if found is None else f"\\u{ord(found.group()):04x}"


def _check_tree(value: Any, max_depth: int) -> None:
    """Walk a parsed body (without recursion): refuse nesting beyond ``max_depth`` and lone surrogates."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            bad = _surrogate(item)
            if bad is not None:
                raise RequestRejectedError(
                    400,
                    "InvalidJSON",
                    f"{_where(path)} holds a lone surrogate ({bad}): JSON text must be valid Unicode "
                    "(a surrogate stands only in a pair)",
                )
            continue
        if isinstance(item, (dict, list)):
            if len(path) >= max_depth:
                raise RequestRejectedError(
                    400,
                    "InvalidJSON",
                    f"the request body nests deeper than {max_depth} levels of arrays and objects (at {_where(path)})",
                )
            if isinstance(item, dict):
                for key, child in item.items():
                    if (bad := _surrogate(key)) is not None:
                        raise RequestRejectedError(
                            400, "InvalidJSON", f"a key of {_where(path)} holds a lone surrogate ({bad})"
                        )
                    stack.append((child, (*path, key)))
            else:
                stack.extend((child, (*path, index)) for index, child in enumerate(item))


def parse_json(raw: bytes | str, *, max_depth: int = DEFAULT_MAX_JSON_DEPTH) -> Any:
    """Parse a request body: JSON text in UTF-8 (UTF-16/32 with a BOM too, as :func:`json.loads` reads).

    :param max_depth: how deeply arrays and objects may nest (levels)
    :raises RequestRejectedError: (400 ``InvalidJSON``) for text that is not JSON, ``NaN``/``Infinity`` or a number
        too large for a float, a lone surrogate in a string or key, or nesting deeper than ``max_depth``
    """
    try:
        value = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise RequestRejectedError(
            400, "InvalidJSON", f"the request body nests deeper than {max_depth} levels of arrays and objects"
        ) from None
    except RequestRejectedError:
        raise
    except ValueError as exc:
        raise RequestRejectedError(400, "InvalidJSON", f"the request body is not valid JSON: {exc}") from None
    _check_tree(value, max_depth)
    return value


async def read_json(request: Request, empty: Any) -> Any:
    """The request's body parsed by :func:`parse_json` with the app's ``max_json_depth``; ``empty`` for an
    empty body.

    :raises RequestRejectedError: as :func:`parse_json`
    """
    raw = await request.body()
    if not raw:
        return empty
    boundary: Boundary | None = getattr(request.app.state, "boundary", None)
    return parse_json(raw, max_depth=boundary.max_json_depth if boundary is not None else DEFAULT_MAX_JSON_DEPTH)


def check_id(what: str, value: object) -> str:
    """Return ``value``, an id a client chose, when it matches :data:`ID_RULE`.

    :param what: how to name it in the error (``"config['run_id']"``)
    :raises RequestRejectedError: (422 ``InvalidBody``) when it is not a string matching :data:`ID_RULE`
    """
    if isinstance(value, str) and ID_RULE.fullmatch(value):
        return value
    shown = repr(value) if len(repr(value)) <= 80 else f"{repr(value)[:60]}... ({len(repr(value))} characters)"
    raise RequestRejectedError(
        422,
        "InvalidBody",
        f"{what} must be 1 to {MAX_ID_LENGTH} ASCII letters, digits, '.', '_', '~', ':' or '-', starting with "
        f"a letter or digit; got {shown}",
    )


def check_config_ids(config: Mapping[str, Any] | None) -> None:
    """Check the ids a run's config names: ``run_id`` and ``configurable.thread_id`` (an int thread id is
    allowed, as LangGraph allows it).

    :raises RequestRejectedError: (422 ``InvalidBody``) for one that :func:`check_id` refuses
    """
    if not config:
        return
    if config.get("run_id") is not None:
        check_id("config['run_id']", config["run_id"])
    configurable = config.get("configurable")
    if isinstance(configurable, Mapping):
        thread_id = configurable.get("thread_id")
        if thread_id is not None and not (isinstance(thread_id, int) and not isinstance(thread_id, bool)):
            check_id("config['configurable']['thread_id']", thread_id)


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def page_csp(html: str) -> str:
    """The ``Content-Security-Policy`` of a page whose script and style are inline blocks of ``html``: each
    ``<script>`` and ``<style>`` block allowed by its SHA-256 hash, nothing else inline (:data:`PAGE_CSP`)."""
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    styles = re.findall(r"<style>(.*?)</style>", html, flags=re.DOTALL)
    return PAGE_CSP.format(
        script=" ".join(_hash(s) for s in scripts) or "'none'",
        style=" ".join(_hash(s) for s in styles) or "'none'",
    )
