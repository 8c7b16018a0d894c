"""Who may do what over HTTP: an authenticate hook, authorize hooks per action, and owners of runs and threads.

``create_app(..., auth=Auth(...))`` turns them on; without ``auth`` the app serves every client alike, as
before. The names follow LangGraph's Agent Server custom auth (``langgraph_sdk.Auth``) where it has them:

* the **authenticate** hook takes the request (a Starlette ``Request``: headers, cookies, query) and returns
  the principal: a :class:`User`, a mapping with LangGraph's ``MinimalUserDict`` keys (``identity``, and
  optionally ``display_name``, ``permissions``, ``is_authenticated``), or just the identity string. It returns
  None, or raises :class:`~streamflow.errors.NotAuthenticatedError`, to refuse: the app answers 401. Every
  route but the web page (``GET /``, which holds no data) authenticates.
* an **authorize** hook per action, registered with :meth:`Auth.on`, takes an :class:`AuthContext` (the
  user, the resource, the action) and the value acted on (a dict, see :data:`Action`); it returns True or
  None to allow, False (or raises :class:`~streamflow.errors.NotAuthorizedError`) to refuse: 403. An action
  with no hook of its own uses the hook registered for every action (``@auth.on`` bare), and with none at
  all it is allowed, as in LangGraph.
* **owners**: each run (and thread) started through the app records its principal's ``identity`` as its
  ``owner`` (runs in worker processes keep it in their Redis directory entry). ``GET /runs`` lists only the
  principal's own runs; a run or thread of another principal (or one started without a principal) answers
  404 with the same message as an id that never existed, not 403, so ids do not leak. The owner check comes
  before the authorize hook, so a hook only ever sees the principal's own runs and threads. A ``POST /runs``
  whose config names ``configurable.thread_id`` runs on that thread, so it too must be the principal's own
  (an app over worker processes, which cannot know a thread's owner, refuses such a config with 422).

Hooks may be plain or ``async`` functions; they run in the app's event loop, so a plain one must not block.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar, get_args, overload

import attrs
from starlette.requests import Request

from ..errors import (
    InvalidArgumentError,
    NotAuthenticatedError,
    NotAuthorizedError,
    UnknownRunError,
    UnknownThreadError,
)

__all__ = [
    "ACTIONS",
    "Action",
    "Auth",
    "AuthContext",
    "Authenticator",
    "Handler",
    "Resource",
    "User",
    "authenticated_user",
    "authorize",
    "authorize_run",
    "authorize_thread",
    "check_auth",
    "owned_config",
    "unknown_run",
    "unknown_thread",
]

Action = Literal["create", "read", "stream", "cancel", "list", "resume"]
"""What a request does, and the value its authorize hook is given:

``create``
    ``POST /runs``: ``{"graph", "input", "config"}``; ``POST /threads/{id}/runs`` with an ``input``: the same
    plus ``"thread_id"``; ``POST /threads``: ``{"thread_id", "metadata"}`` (resource ``threads``).
``read``
    ``GET /runs/{id}``: ``{"run_id"}``; ``GET /threads/{id}`` and its ``/state`` and ``/history``:
    ``{"thread_id"}`` (resource ``threads``).
``stream``
    ``GET /runs/{id}/stream``: ``{"run_id"}``.
``cancel``
    ``POST /runs/{id}/cancel``: ``{"run_id"}``.
``list``
    ``GET /runs``: ``{"status": [...]}`` (the statuses asked for; empty for all).
``resume``
    ``POST /threads/{id}/runs`` with a ``command``: ``{"thread_id", "graph", "command", "config"}``.
"""
ACTIONS: tuple[Action, ...] = get_args(Action)
"""Every :data:`Action`."""
Resource = Literal["runs", "threads"]
"""What an action is done to."""

Authenticator = Callable[[Request], Any]
"""The authenticate hook: ``(request) -> User | Mapping | str | None``, or an awaitable of one."""
Handler = Callable[["AuthContext", dict[str, Any]], Any]
"""An authorize hook: ``(ctx, value) -> bool | None``, or an awaitable of one."""

H = TypeVar("H", bound=Handler)
A = TypeVar("A", bound=Authenticator)


def _permissions(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not all(isinstance(p, str) for p in value):
        raise InvalidArgumentError(f"a user's 'permissions' must be a list of strings, got {value!r}")
    return tuple(value)


@attrs.frozen
class User:
    """The principal a request acts for (LangGraph's ``MinimalUserDict`` fields)."""

    identity: str
    """Who it is: a non-empty string, unique per principal; recorded as the ``owner`` of its runs."""
    display_name: str = ""
    """A name to show (the identity when none was given)."""
    permissions: tuple[str, ...] = attrs.field(default=(), converter=_permissions)
    """What the authenticate hook says it may do, for the authorize hooks to read."""
    is_authenticated: bool = True
    """Whether the principal is authenticated (an authenticate hook may accept anonymous ones)."""

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.identity, str) or not self.identity:
            raise InvalidArgumentError(f"a user's 'identity' must be a non-empty string, got {self.identity!r}")
        if not self.display_name:
            object.__setattr__(self, "display_name", self.identity)

    @classmethod
    def from_value(cls, value: User | Mapping[str, Any] | str) -> User:
        """The user an authenticate hook returned: a :class:`User`, a mapping of its fields (LangGraph's
        ``MinimalUserDict``), or an identity string.

        :raises InvalidArgumentError: for anything else, a mapping without a non-empty ``identity`` or with
            keys other than the fields, or ``permissions`` that are not a list of strings
        """
        if isinstance(value, User):
            return value
        if isinstance(value, str):
            return cls(value)
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - {"identity", "display_name", "permissions", "is_authenticated"})
            if unknown:
                raise InvalidArgumentError(
                    f"unknown user keys {unknown}; allowed: identity, display_name, permissions, is_authenticated"
                )
            if "identity" not in value:
                raise InvalidArgumentError(f"a user mapping needs an 'identity', got {dict(value)!r}")
            return cls(**value)
        raise InvalidArgumentError(
            "the authenticate hook must return a User, a mapping with an 'identity', an identity string, or None "
            f"to refuse; got {type(value).__name__}"
        )


@attrs.frozen
class AuthContext:
    """What an authorize hook is told about the request (LangGraph's ``AuthContext``)."""

    user: User
    """The principal, as the authenticate hook returned it."""
    resource: Resource
    """What the action is done to: ``"runs"`` or ``"threads"``."""
    action: Action
    """What the request does (see :data:`Action`)."""

    @property
    def permissions(self) -> tuple[str, ...]:
        """The user's permissions."""
        return self.user.permissions


async def _call(fn: Callable[..., Any], *args: Any) -> Any:
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


class Auth:
    """The app's authenticate hook and authorize hooks (see the module docstring).

    Give the hooks here, or register them with the decorators::

        auth = Auth()

        @auth.authenticate
        async def who(request: Request) -> str | None:
            return tokens.get(request.headers.get("authorization", ""))

        @auth.on("cancel")
        def only_admins_cancel(ctx: AuthContext, value: dict) -> bool:
            return "admin" in ctx.permissions

    :param authenticate: the authenticate hook
    :param on: authorize hooks by action; the key ``"*"`` is the hook for every action without its own
    :raises InvalidArgumentError: for a hook that is not callable or an action that is not an :data:`Action`
    """

    __slots__ = ("_authenticate", "_handlers")

    def __init__(self, authenticate: Authenticator | None = None, *, on: Mapping[str, Handler] | None = None) -> None:
        self._authenticate: Authenticator | None = None
        self._handlers: dict[str, Handler] = {}
        if authenticate is not None:
            self.authenticate(authenticate)
        for action, handler in (on or {}).items():
            self._register(handler, () if action == "*" else (action,))

    # -- registering ---------------------------------------------------------------------------------

    def authenticate(self, fn: A) -> A:
        """Register ``fn`` as the authenticate hook (a decorator; the last one registered wins).

        :raises InvalidArgumentError: when ``fn`` is not callable
        """
        if not callable(fn):
            raise InvalidArgumentError(f"the authenticate hook must be callable, got {fn!r}")
        self._authenticate = fn
        return fn

    @overload
    def on(self, fn: H, /) -> H: ...

    @overload
    def on(self, *actions: Action) -> Callable[[H], H]: ...

    def on(self, *actions: Any) -> Any:
        """Register an authorize hook: ``@auth.on`` (bare) for every action without a hook of its own,
        ``@auth.on("create", "cancel")`` for those actions.

        :raises InvalidArgumentError: for an action that is not an :data:`Action`, or a hook that is not callable
        """
        if len(actions) == 1 and callable(actions[0]):
            return self._register(actions[0], ())

        def register(fn: H) -> H:
            return self._register(fn, actions)

        self._check_actions(actions)
        return register

    def _check_actions(self, actions: Sequence[Any]) -> None:
        bad = [a for a in actions if a not in ACTIONS]
        if bad:
            raise InvalidArgumentError(f"unknown auth actions {bad!r}; allowed: {', '.join(ACTIONS)} (or none: all)")

    def _register(self, fn: H, actions: Sequence[Any]) -> H:
        if not callable(fn):
            raise InvalidArgumentError(f"an authorize hook must be callable, got {fn!r}")
        self._check_actions(actions)
        for action in actions or ("*",):
            self._handlers[action] = fn
        return fn

    # -- using ---------------------------------------------------------------------------------------

    @property
    def has_authenticate(self) -> bool:
        """Whether an authenticate hook is registered (the app needs one)."""
        return self._authenticate is not None

    async def user_of(self, request: Request) -> User:
        """The principal of ``request``, by the authenticate hook.

        :raises NotAuthenticatedError: when the hook returns None (or raises it itself)
        :raises TypeError: when the hook returns something that is not a user (see :meth:`User.from_value`):
            the app answers 500
        :raises RuntimeError: when no authenticate hook is registered
        """
        if self._authenticate is None:
            raise RuntimeError("no authenticate hook is registered on this Auth")
        value = await _call(self._authenticate, request)
        if value is None:
            raise NotAuthenticatedError("authentication required: the request carries no credentials the app accepts")
        try:
            return User.from_value(value)
        except InvalidArgumentError as exc:  # the app's own hook is wrong, not the request: a 500
            raise TypeError(f"the authenticate hook returned a bad user: {exc}") from exc

    async def check(self, user: User, resource: Resource, action: Action, value: dict[str, Any]) -> None:
        """Run the authorize hook of ``action`` (or the one for every action; none allows).

        :raises NotAuthorizedError: when the hook returns False (or raises it itself)
        :raises InvalidArgumentError: when the hook returns something other than a bool or None
        """
        handler = self._handlers.get(action) or self._handlers.get("*")
        if handler is None:
            return
        verdict = await _call(handler, AuthContext(user, resource, action), value)
        if verdict is None or verdict is True:
            return
        if verdict is False:
            raise NotAuthorizedError(f"{user.identity!r} may not {action} {resource} here")
        raise InvalidArgumentError(
            f"the authorize hook for {action!r} must return True, False or None, got {type(verdict).__name__}"
        )


# -- what the app's endpoints call ---------------------------------------------------------------------


def _auth(request: Request) -> Auth | None:
    auth: Auth | None = getattr(request.app.state, "auth", None)
    return auth


async def authenticated_user(request: Request) -> User | None:
    """The request's principal (authenticated once per request), or None when the app has no ``auth``.

    :raises NotAuthenticatedError: when the authenticate hook refuses the request
    """
    auth = _auth(request)
    if auth is None:
        return None
    user: User | None = getattr(request.state, "user", None)
    if user is None:
        user = await auth.user_of(request)
        request.state.user = user
    return user


async def authorize(request: Request, resource: Resource, action: Action, value: dict[str, Any]) -> str | None:
    """Authenticate the request and run the authorize hook of ``action``; return the principal's identity
    (None when the app has no ``auth``: everything is allowed).

    :raises NotAuthenticatedError: when the authenticate hook refuses the request
    :raises NotAuthorizedError: when the authorize hook refuses the action
    """
    auth = _auth(request)
    user = await authenticated_user(request)
    if auth is None or user is None:
        return None
    await auth.check(user, resource, action, value)
    return user.identity


def unknown_run(run_id: str) -> UnknownRunError:
    """The 404 of a run a principal may not know of: the same for another's run as for none at all."""
    return UnknownRunError(f"unknown run {run_id!r}: none of yours has this id (or it was dropped after it ended)")


def unknown_thread(thread_id: str) -> UnknownThreadError:
    """The 404 of a thread a principal may not know of: the same for another's thread as for none at all."""
    return UnknownThreadError(f"unknown thread {thread_id!r}: none of yours has this id")


async def authorize_run(request: Request, action: Action, run_id: str) -> None:
    """Check that the run is the principal's own, then run the authorize hook of ``action`` with
    ``{"run_id": run_id}``; nothing without ``auth``.

    :raises NotAuthenticatedError: when the authenticate hook refuses the request
    :raises UnknownRunError: when the source has no such run, or it is not the principal's (same message)
    :raises NotAuthorizedError: when the authorize hook refuses the action
    """
    user = await authenticated_user(request)
    if user is None:
        return
    try:
        owner = await request.app.state.source.owner_of(run_id)
    except UnknownRunError:
        raise unknown_run(run_id) from None
    if owner != user.identity:
        raise unknown_run(run_id)
    await authorize(request, "runs", action, {"run_id": run_id})


async def authorize_thread(
    request: Request, action: Action, thread_id: str, value: dict[str, Any] | None = None
) -> str | None:
    """Check that the thread is the principal's own, then run the authorize hook of ``action`` (resource
    ``threads`` for ``read``, ``runs`` for the ``create`` and ``resume`` of a run on it) with
    ``{"thread_id": thread_id, **value}``; return the principal's identity (None without ``auth``).

    :raises NotAuthenticatedError: when the authenticate hook refuses the request
    :raises UnknownThreadError: when the app knows no such thread, or it is not the principal's (same message)
    :raises NotAuthorizedError: when the authorize hook refuses the action
    """
    user = await authenticated_user(request)
    if user is None:
        return None
    await _check_thread_owner(request, user, thread_id)
    resource: Resource = "threads" if action == "read" else "runs"
    return await authorize(request, resource, action, {"thread_id": thread_id, **(value or {})})


async def _check_thread_owner(request: Request, user: User, thread_id: str) -> None:
    try:
        entry = await request.app.state.threads.get(thread_id)
    except UnknownThreadError:
        raise unknown_thread(thread_id) from None
    if entry.owner != user.identity:
        raise unknown_thread(thread_id)


async def owned_config(request: Request, config: Any) -> Any:
    """The config of a ``POST /runs``, checked for the thread it may name: with ``auth``, a config whose
    ``configurable.thread_id`` names a thread runs on it, so the thread must be the principal's own, and the
    run's ``metadata.owner`` is set to the principal (its checkpoints name the owner, as a run started on the
    thread routes does). Returned unchanged without ``auth`` or without a ``thread_id``.

    :raises UnknownThreadError: for a thread the app does not know, or one that is not the principal's (same
        message)
    :raises InvalidArgumentError: for a ``thread_id`` on an app that serves no threads (no thread there can be
        checked: runs in worker processes need a ``RedisRunSource`` given a checkpointer)
    """
    user = await authenticated_user(request)
    if user is None or not isinstance(config, Mapping):
        return config
    configurable = config.get("configurable")
    thread_id = configurable.get("thread_id") if isinstance(configurable, Mapping) else None
    if thread_id is None:
        return config
    if request.app.state.threads is None:
        raise InvalidArgumentError(
            "config.configurable.thread_id is not allowed here: with auth, runs on threads need an app that serves "
            "threads (runs in this process, or a RedisRunSource given a checkpointer), where the thread's owner is "
            "known"
        )
    await _check_thread_owner(request, user, str(thread_id))
    metadata = config.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        return config  # refused by the run's own config check
    return {**config, "metadata": {**(metadata or {}), "owner": user.identity}}


def check_auth(auth: object) -> Auth | None:
    """``create_app``'s check of its ``auth`` argument.

    :raises InvalidArgumentError: for something other than an :class:`Auth` or None, or an :class:`Auth`
        without an authenticate hook
    """
    if auth is None:
        return None
    if not isinstance(auth, Auth):
        raise InvalidArgumentError(f"auth must be a streamflow.server.auth.Auth or None, got {type(auth).__name__}")
    if not auth.has_authenticate:
        raise InvalidArgumentError("auth has no authenticate hook: register one with @auth.authenticate")
    return auth
