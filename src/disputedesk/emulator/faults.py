"""Fault injection (off by default): a request-rate limit, a share of 500s, added latency.

Decisions use a seeded RNG so a reliability test sees the same pattern on every run.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

from . import errors


MAX_RATE_LIMIT = 1_000_000.0
MAX_LATENCY_MS = 60_000


@dataclass
class FaultConfig:
    rate_limit: float = 0.0      # requests per second per account; 0 = unlimited
    error_rate: float = 0.0      # share of API requests answered with 500 api_error
    latency_ms: int = 0          # added before every API request is handled
    seed: int = 0

    def as_dict(self) -> dict[str, float | int]:
        return {"rate_limit": self.rate_limit, "error_rate": self.error_rate,
                "latency_ms": self.latency_ms}


@dataclass
class Faults:
    config: FaultConfig = field(default_factory=FaultConfig)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.config.seed)
        self._lock = threading.Lock()
        self._window: dict[str, tuple[int, int]] = {}  # account -> (second, count)

    def configure(self, *, rate_limit: float | None = None, error_rate: float | None = None,
                  latency_ms: int | None = None, seed: int | None = None) -> FaultConfig:
        with self._lock:
            if rate_limit is not None:
                if not 0 <= rate_limit <= MAX_RATE_LIMIT:  # also refuses NaN
                    raise ValueError(f"rate_limit must be between 0 (off) and {MAX_RATE_LIMIT}")
                self.config.rate_limit = float(rate_limit)
            if error_rate is not None:
                if not 0 <= error_rate <= 1:
                    raise ValueError("error_rate must be between 0 and 1")
                self.config.error_rate = float(error_rate)
            if latency_ms is not None:
                if not 0 <= latency_ms <= MAX_LATENCY_MS:
                    raise ValueError(f"latency_ms must be between 0 and {MAX_LATENCY_MS}")
                self.config.latency_ms = int(latency_ms)
            if seed is not None:
                self.config.seed = seed
                self._rng = random.Random(seed)
            self._window.clear()
            return self.config

    @property
    def latency_seconds(self) -> float:
        return self.config.latency_ms / 1000.0

    def check(self, account_id: str) -> None:
        """Raise the 429 or 500 this request should get, if any."""
        cfg = self.config
        if not cfg.rate_limit and not cfg.error_rate:
            return
        with self._lock:
            if cfg.rate_limit:
                second = int(time.monotonic())
                start, count = self._window.get(account_id, (second, 0))
                if start != second:
                    start, count = second, 0
                count += 1
                self._window[account_id] = (start, count)
                if count > cfg.rate_limit:
                    raise errors.rate_limited("global-rate")
            if cfg.error_rate and self._rng.random() < cfg.error_rate:
                raise errors.api_error()
