"""What every service call needs: the store, and the launcher that drives recorded runs."""

from __future__ import annotations

from dataclasses import dataclass

from flowyard.services.launcher import Launcher
from flowyard.store import Store


@dataclass
class Services:
    store: Store
    launcher: Launcher
