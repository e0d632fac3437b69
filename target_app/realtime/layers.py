"""The Redis channel layer: channels_redis with a bounded, blocking pool and a reply timeout that fits it."""

import redis.asyncio
from channels_redis.core import RedisChannelLayer


class BoundedRedisChannelLayer(RedisChannelLayer):
    """channels_redis's layer, fixed for two things that broke target_app under load.

    - Its pool: channels_redis builds a plain redis-py pool, capped at 100 connections, that raises
      "Too many connections" (a ConnectionError) when a connect or disconnect storm needs more at
      once. Consumers took that for an outage and left their group memberships behind. Here the pool
      keeps at most `pool_size` connections and a call waits up to `pool_wait` seconds for one.
    - Its reply timeout: a receive blocks in Redis (BZPOPMIN) for `brpop_timeout` seconds, and redis-py
      8 gives up on any reply after 5 s by default. With channels_redis's 5 s the two raced and an
      idle receive failed with TimeoutError every cycle, which consumers logged as an outage and
      waited out for a second. Every command here waits `reply_timeout`, well past the receive's block.
    """

    brpop_timeout = 2
    reply_timeout = 5.0
    pool_size = 32
    pool_wait = 5.0

    def create_pool(self, index):
        host = dict(self.hosts[index])
        options = {
            "max_connections": self.pool_size,
            "timeout": self.pool_wait,
            "socket_timeout": self.reply_timeout,
            **host,
        }
        address = options.pop("address", None)
        if address is None:  # hosts given as {"host": ..., "port": ...}
            return redis.asyncio.BlockingConnectionPool(**options)
        return redis.asyncio.BlockingConnectionPool.from_url(address, **options)
