"""Token buckets in Redis: every take is one atomic script, shared by all `serve` processes.

The script is ``domain.ratelimits.take_tokens`` in Lua. Each bucket's state is a plain
string key ``fxa-email:rl:<kind>:<name>`` holding the time (in microseconds, an integer)
at which it is full again, expiring at that time: a full bucket needs no key. Microsecond
integers stay below 2^53, so Lua's doubles hold them exactly; ``%d`` keeps them out of
scientific notation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from redis.exceptions import NoScriptError, RedisError

from adapters.ratelimits.keys import bucket_key
from adapters.stores.keys import KeyHasher
from adapters.stores.redis import RedisConnection
from domain.buckets import Take
from domain.errors import StoreError

_PREFIX = "fxa-email:rl:"

# KEYS: the buckets. ARGV[1]: now (us), ARGV[2]: required, then per bucket: interval, burst.
_TAKE = """
local now = tonumber(ARGV[1])
local required = tonumber(ARGV[2])
local states, waits, refused = {}, {}, false
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[1 + 2 * i])
  local burst = tonumber(ARGV[2 + 2 * i])
  local full_at = tonumber(redis.call('GET', key) or '0')
  local candidate = math.max(full_at, now) + interval
  local wait = candidate - burst * interval - now
  if wait > 0 then
    waits[i] = wait
    if i <= required then refused = true end
  else
    waits[i] = 0
    states[i] = candidate
  end
end
if not refused then
  for i, key in ipairs(KEYS) do
    if states[i] then
      local ttl_ms = math.ceil((states[i] - now) / 1000)
      redis.call('SET', key, string.format('%d', states[i]), 'PX', ttl_ms)
    end
  end
end
return waits
"""


class RedisRateLimiter:
    def __init__(self, conn: RedisConnection, hasher: KeyHasher) -> None:
        self._conn = conn
        self._hasher = hasher
        self._sha = hashlib.sha1(_TAKE.encode()).hexdigest()

    async def ping(self) -> None:
        await self._conn.ping()

    async def aclose(self) -> None:
        await self._conn.aclose()

    async def take(self, takes: Sequence[Take], required: int, now_us: int) -> Sequence[int]:
        keys = [_PREFIX + bucket_key(self._hasher, t.key) for t in takes]
        args: list[int] = [now_us, required]
        for t in takes:
            args += [t.bucket.interval_us, t.bucket.burst]
        take = ("EVALSHA", self._sha, len(keys), *keys, *args)
        try:
            try:  # batched with the other requests' commands: one round trip for them all
                (waits,) = await self._conn.batched(take)
            except NoScriptError:  # a Redis that restarted or never saw it: load it, once
                await self._conn.batched(("SCRIPT", "LOAD", _TAKE))
                (waits,) = await self._conn.batched(take)
        except (RedisError, OSError) as exc:
            raise StoreError(f"redis store failed: {type(exc).__name__}: {exc}") from exc
        return [int(w) for w in waits]
