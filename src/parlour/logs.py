"""Logging set-up: plain text, or one JSON object a line with ``LOG_FORMAT=json``."""

from __future__ import annotations

import json
import logging
import sys
import time

from parlour.config import Settings
from parlour.web.observe import RequestIdFilter

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def setup_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    logging.getLogger("uvicorn.access").addFilter(DropQueryStrings())
    # ``--reload``: each change it sees is logged, and a log file in the watched directory
    # is itself a change - one line after another, for ever.
    logging.getLogger("watchfiles").setLevel(logging.WARNING)
    quiet_http_clients()


class DropQueryStrings(logging.Filter):
    """Access-log lines keep the path but not the query: the tutorial's stream carries
    the user's message in its URL, and message text is not for logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            client, method, path, version, status = args
            if isinstance(path, str):
                record.args = (client, method, path.split("?", 1)[0], version, status)
        return True


def quiet_http_clients() -> None:
    """The HTTP client libraries log request URLs (the upstream's base URL) below WARNING."""
    for name in ("httpx", "httpx2", "httpcore", "httpcore2", "openai"):
        logging.getLogger(name).setLevel(logging.WARNING)
