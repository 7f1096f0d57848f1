"""The sign-in guard: password guesses are counted *before* they are checked.

Design
------
A guess is a failure until it proves otherwise: one Lua script reserves the
attempt (records it as a failure) or refuses it, atomically, before the slow
password check runs; a right password takes its reservation back. So however
many guesses arrive at once, at most the allowed number are ever checked.

Failures are counted twice, and neither count locks an account for everyone:

* per username **and** address (``RATE_LOGIN_FAILURES``, 5 per 15 minutes):
  past it that pair is refused, so an attacker locks out only themselves;
* per username from every address (``RATE_LOGIN_ACCOUNT_FAILURES``, 50 an
  hour): past it, an address that has failed for that username is refused, and
  an address with no failure for it may still try - one attempt at a time, since
  its first attempt is itself counted until it succeeds. The real user, at the
  right password from their own address, gets in; a guesser with many addresses
  gets one guess per address per window.

Attempts per address, whatever the username, stay limited by ``RATE_LOGIN_IP``.
Wrong current passwords given to change a password go through the same guard.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from dataclasses import dataclass

from limits import parse
from redis.asyncio import Redis

from parlour.errors import RateLimited
from parlour.store import Keys

# KEYS: pair, account. ARGV: now (ms), member, pair window (ms), pair most,
# account window (ms), account most. Returns {1, 0} (reserved) or {0, wait in ms}.
_RESERVE = """
local now = tonumber(ARGV[1])
local pair_window, pair_most = tonumber(ARGV[3]), tonumber(ARGV[4])
local acct_window, acct_most = tonumber(ARGV[5]), tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - pair_window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - acct_window)
local pair = redis.call('ZCARD', KEYS[1])
local function wait(key, window)
  local oldest = redis.call('ZRANGE', KEYS[key], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
if pair >= pair_most then return {0, wait(1, pair_window)} end
if pair > 0 and redis.call('ZCARD', KEYS[2]) >= acct_most then
  return {0, wait(2, acct_window)}
end
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('ZADD', KEYS[2], now, ARGV[2])
redis.call('PEXPIRE', KEYS[1], pair_window)
redis.call('PEXPIRE', KEYS[2], acct_window)
return {1, 0}
"""

# KEYS: pair, account. ARGV: member. A right password: this attempt was no failure,
# and the address's earlier failures for this username are forgiven.
_RELEASE = """
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""


@dataclass(frozen=True, slots=True)
class Attempt:
    """A reserved sign-in attempt: give it to :meth:`SigninGuard.succeeded` if it was right."""

    pair_key: str
    account_key: str
    member: str


class SigninGuard:
    def __init__(self, redis: Redis, keys: Keys, *, per_address: str, per_account: str) -> None:
        self.keys = keys
        self.per_address = parse(per_address)
        self.per_account = parse(per_account)
        self._reserve = redis.register_script(_RESERVE)
        self._release = redis.register_script(_RELEASE)

    async def reserve(self, username: str, address: str) -> Attempt:
        """Count one attempt for ``username`` from ``address``, or raise :class:`RateLimited`."""
        name = hashlib.sha256(username.lower().encode()).hexdigest()[:32]
        attempt = Attempt(
            self.keys.signin_pair_failures(name, address),
            self.keys.signin_failures(name),
            secrets.token_hex(8),
        )
        pair, account = self.per_address, self.per_account
        ok, wait_ms = await self._reserve(
            keys=[attempt.pair_key, attempt.account_key],
            args=[
                int(time.time() * 1000),
                attempt.member,
                pair.get_expiry() * 1000,
                pair.amount,
                account.get_expiry() * 1000,
                account.amount,
            ],
        )
        if not int(ok):
            wait = max(1, math.ceil(int(wait_ms) / 1000))
            raise RateLimited(
                "Too many failed sign-ins for this account from your address. "
                f"Please try again in {wait} s.",
                retry_after=wait,
            )
        return attempt

    async def succeeded(self, attempt: Attempt) -> None:
        await self._release(keys=[attempt.pair_key, attempt.account_key], args=[attempt.member])
