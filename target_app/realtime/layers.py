"""The Redis channel layer: channels_redis with a bounded, blocking pool and no socket timeout."""

import redis.asyncio
from channels_redis.core import RedisChannelLayer


class BoundedRedisChannelLayer(RedisChannelLayer):
    """channels_redis's layer, with the two things changed that broke target_app under load.

    - Its pool: channels_redis builds a plain redis-py pool, capped at 100 connections, that raises
      "Too many connections" (a ConnectionError) when a connect or disconnect storm needs more at
      once. Consumers took that for an outage and left their group memberships behind. Here the pool
      keeps at most `pool_size` connections and a call waits up to `pool_wait` seconds for one.
    - Its socket timeout, which redis-py 8 sets to 5 s by default (earlier versions had none):
      - A receive blocks in Redis (BZPOPMIN) for `brpop_timeout` seconds, 5 too, so the two raced and
        every idle receive failed with a TimeoutError, which consumers logged as an outage and waited
        out for a second.
      - With a socket timeout, redis-py sends each command under `asyncio.wait_for`, and Python 3.11's
        `wait_for` drops a cancellation that arrives as the send completes. Channels cancels a
        consumer's channel receive when the consumer ends; a dropped cancellation left the receive
        polling forever and the consumer, its task and its connection slot alive for good.
      So no socket timeout (`reply_timeout = None`), as with redis-py before 8: connecting still times
      out (`socket_connect_timeout`), and an unreachable Redis still fails at once.
    """

    reply_timeout = None
    pool_size = 32
    pool_wait = 30.0  # as the limiter's: waiting is the server being busy, not Redis being down

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
