"""A stateful emulator of the part of Stripe's API that refunds and disputes touch.

Imports nothing else from disputedesk. Start it with ``disputedesk emulator`` or, in tests,
``disputedesk.emulator.testing.running_emulator()``; see FRAMEWORK.md for the internals.
"""

from __future__ import annotations

from .app import create_app
from .clock import Clock
from .emulator import DEFAULT_API_VERSION, PLATFORM_ACCOUNT, Emulator
from .faults import FaultConfig

__all__ = ["Clock", "DEFAULT_API_VERSION", "Emulator", "FaultConfig", "PLATFORM_ACCOUNT",
           "create_app"]
