"""A soak client: its own conversations, random actions on either server, and a record of
what it saw of every reply (the text it assembled from events, across resumes, and the
final event).

Every wait is bounded: a request that meets a connection error, 503 or 409 is tried
again (on either server) until ``patience`` seconds have passed; then the reply is
recorded as unfinished, which the checks report.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

RETRY = {409, 502, 503}  # busy (a reply still being closed), or a server going away


@dataclass
class Seen:
    """One reply, as a client saw it."""

    client: int
    sid: str
    action: str
    writer: str = ""  # the server the reply was started on
    reply_id: str = ""
    user_message_id: str = ""
    text: str = ""
    final: str = ""  # "done" / "failure"; "" if none came
    final_data: dict[str, Any] = field(default_factory=dict)
    last_id: str = ""
    resumes: int = 0
    started: float = 0.0  # time.monotonic() of the start event
    ended: float = 0.0  # of the final event
    problems: list[str] = field(default_factory=list)


@dataclass
class Event:
    name: str
    data: dict[str, Any]
    id: str


class Broken(Exception):
    """The stream ended without a final event (the server went away or cut it)."""


def events(response: httpx.Response) -> Iterator[Event]:
    """Server-sent events of a response, as sent; a comment line is an event named ""."""
    name, data, eid = "message", [], ""
    for line in response.iter_lines():
        if not line:
            if data:
                yield Event(name, orjson.loads("\n".join(data)), eid)
            name, data, eid = "message", [], ""
            continue
        if line.startswith(":"):
            yield Event("", {}, "")  # a keep-alive comment: the reader may check its clock
            continue
        key, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if key == "event":
            name = value
        elif key == "data":
            data.append(value)
        elif key == "id":
            eid = value


@dataclass
class Servers:
    """The servers' base URLs (stable across restarts: a restart keeps its port)."""

    urls: list[str]

    def any(self, rng: random.Random) -> str:
        return rng.choice(self.urls)


class Client:
    def __init__(
        self,
        number: int,
        servers: Servers,
        record: Callable[[Seen], None],
        stop: threading.Event,
        *,
        seed: int,
        patience: float = 150.0,
    ) -> None:
        self.number = number
        self.servers = servers
        self.record = record
        self.stop = stop
        self.rng = random.Random(seed)
        self.patience = patience
        self.http = httpx.Client(timeout=httpx.Timeout(60.0, connect=5.0))
        self.sessions: list[str] = []
        self.answered: dict[str, bool] = {}  # the conversation holds a reply to answer again
        self.sent = 0
        self.errors: list[str] = []
        self.retries = 0

    # --- the loop ------------------------------------------------------------------

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                try:
                    self.one_action()
                except Exception as exc:  # recorded, and the client goes on
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                self.stop.wait(self.rng.uniform(0.1, 1.0))  # the soak's own pacing
        finally:
            self.http.close()

    def one_action(self) -> None:
        if not self.sessions or (len(self.sessions) < 3 and self.rng.random() < 0.05):
            self.sessions.append(self.new_session())
        sid = self.rng.choice(self.sessions)
        actions = ["send", "resume", "stop"]
        if self.answered.get(sid):
            actions += ["regenerate", "edit"]
        action = self.rng.choices(actions, weights=[30, 30, 15, 15, 10][: len(actions)])[0]
        seen = Seen(self.number, sid, action)
        tokens = self.rng.randint(4, 60)
        body: dict[str, Any] = {"content": self.content(tokens)}
        path = f"/api/v1/sessions/{sid}/messages"
        if action == "regenerate":
            path, body = f"/api/v1/sessions/{sid}/reply/regenerate", {}
        elif action == "edit":
            users = [m for m in self.branch(sid) if m["role"] == "user"]
            if not users:
                return
            body["replace_from"] = self.rng.choice(users)["id"]
        hang_up = self.rng.randint(1, max(1, tokens - 1)) if action == "resume" else None
        stop_at = self.rng.randint(1, tokens) if action == "stop" else None
        self.reply(seen, path, body, hang_up=hang_up, stop_at=stop_at)
        if seen.reply_id:
            self.record(seen)
            self.answered[sid] = True

    def content(self, tokens: int) -> str:
        self.sent += 1
        pace = self.rng.choice((10, 20, 30))
        return f"client {self.number} message {self.sent} [pace {pace}ms x {tokens}]"

    # --- requests ------------------------------------------------------------------

    def _retrying(self, call: Callable[[str], httpx.Response]) -> httpx.Response:
        """``call(server)`` until it answers other than 409/502/503, on either server."""
        deadline = time.monotonic() + self.patience
        wait = 0.2
        while True:
            try:
                response = call(self.servers.any(self.rng))
                if response.status_code not in RETRY:
                    return response
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("no server answered in time")
            self.retries += 1
            time.sleep(wait)
            wait = min(wait * 1.5, 2.0)

    def new_session(self) -> str:
        r = self._retrying(lambda url: self.http.post(f"{url}/api/v1/sessions", json={}))
        r.raise_for_status()
        return str(r.json()["id"])

    def branch(self, sid: str) -> list[dict[str, Any]]:
        r = self._retrying(
            lambda url: self.http.get(f"{url}/api/v1/sessions/{sid}/messages?limit=500")
        )
        r.raise_for_status()
        return list(r.json()["items"])

    def reply(
        self,
        seen: Seen,
        path: str,
        body: dict[str, Any],
        *,
        hang_up: int | None,
        stop_at: int | None,
    ) -> None:
        """Start a reply and read it to its end, resuming as often as it takes."""
        deadline = time.monotonic() + self.patience
        wait = 0.2
        while not seen.reply_id:
            url = self.servers.any(self.rng)
            try:
                with self.http.stream("POST", f"{url}{path}", json=body) as r:
                    if r.status_code in RETRY:
                        r.read()
                    elif r.status_code != 200:
                        r.read()
                        seen.problems.append(f"start answered {r.status_code}: {r.text[:200]}")
                        return
                    else:
                        seen.writer = url
                        if self.read(seen, r, hang_up=hang_up, stop_at=stop_at):
                            return
                        break  # hung up (or cut off): resume below
            except httpx.ConnectError:
                pass  # never reached a server: try again
            except (httpx.TransportError, Broken):
                if not seen.reply_id:
                    # Cut off before the start event: whether the message was taken is
                    # not known here (the checks account for such replies).
                    return
                break
            if time.monotonic() > deadline:
                seen.problems.append("no server took the message in time")
                return
            self.retries += 1
            time.sleep(wait)
            wait = min(wait * 1.5, 2.0)
        if hang_up is not None:
            self.stop.wait(self.rng.uniform(0.0, 0.5))  # away for a moment
        self.resume(seen)

    def resume(self, seen: Seen) -> None:
        """Resume with ``Last-Event-ID`` alone, on either server, until the final event."""
        deadline = time.monotonic() + self.patience
        wait = 0.2
        while not seen.final:
            url = self.servers.any(self.rng)
            seen.resumes += 1
            headers = {"Last-Event-ID": seen.last_id}
            try:
                with self.http.stream(
                    "GET", f"{url}/api/v1/sessions/{seen.sid}/reply", headers=headers
                ) as r:
                    if r.status_code == 204:
                        seen.problems.append(f"204 on resuming after {seen.last_id}, no final")
                        return
                    if r.status_code == 200:
                        if self.read(seen, r):
                            return
                    else:
                        r.read()
                        if r.status_code not in RETRY:
                            seen.problems.append(f"resume answered {r.status_code}: {r.text}")
                            return
            except (httpx.TransportError, Broken):
                pass
            if time.monotonic() > deadline:
                seen.problems.append("no final event in time")
                return
            self.retries += 1
            time.sleep(wait)
            wait = min(wait * 1.5, 2.0)

    def read(
        self,
        seen: Seen,
        response: httpx.Response,
        *,
        hang_up: int | None = None,
        stop_at: int | None = None,
    ) -> bool:
        """Read events into ``seen``: True at the final event, False after hanging up."""
        deltas = 0
        give_up = time.monotonic() + self.patience
        for event in events(response):
            if time.monotonic() > give_up:
                seen.problems.append(f"still no final event after {self.patience} s")
                return True
            if not event.name:
                continue
            seen.last_id = event.id
            if event.name == "start":
                if seen.reply_id and event.data["reply_id"] != seen.reply_id:
                    seen.problems.append(f"joined another reply {event.data['reply_id']}")
                seen.reply_id = str(event.data["reply_id"])
                seen.user_message_id = str(event.data.get("user_message_id", ""))
                seen.started = seen.started or time.monotonic()
            elif event.name == "delta":
                if event.id.split(":")[0] != seen.reply_id:
                    seen.problems.append(f"a delta of another reply: {event.id}")
                seen.text += str(event.data["content"])
                deltas += 1
                if stop_at is not None and deltas == stop_at:
                    self.ask_stop(seen)
                if hang_up is not None and deltas >= hang_up:
                    return False
            elif event.name in ("done", "failure"):
                seen.final, seen.final_data = event.name, event.data
                seen.ended = time.monotonic()
                return True
        raise Broken

    def ask_stop(self, seen: Seen) -> None:
        url = self.servers.any(self.rng)
        try:
            r = self.http.post(f"{url}/api/v1/sessions/{seen.sid}/reply/stop")
            if r.status_code not in (202, 404, 503):
                seen.problems.append(f"stop answered {r.status_code}: {r.text[:200]}")
        except httpx.TransportError:
            pass  # that server is away; the reply runs on to its end
