"""What the rate-limit tests share: a clock the test moves by hand, and the token bucket's exact answers."""

from target_app.realtime.ratelimit import Limiter
from target_app.realtime.ratelimit_backends import RateDecision


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def assert_burst_then_refill(limiter: Limiter, clock: FakeClock) -> None:
    """A bucket of burst 3 at 2 tokens a second: three hits pass, the fourth waits half a second, and a
    token comes back after that half second, not before."""
    answers = [await limiter.hit("ws:msg:user:1", 2, 3) for _ in range(4)]
    assert answers == [RateDecision(True, 0.0)] * 3 + [RateDecision(False, 0.5)]
    clock.now += 0.25
    assert await limiter.hit("ws:msg:user:1", 2, 3) == RateDecision(False, 0.25)
    clock.now += 0.25
    assert await limiter.hit("ws:msg:user:1", 2, 3) == RateDecision(True, 0.0)
