"""Controllers: one reconciler per kind, each a loop observe -> compare -> act -> write status.
Reconcilers are listed by name in registry.BUILTIN and imported only when their kind shows up,
so a kind's heavy dependencies load only where that kind is used."""

from flowyard.controllers.registry import Reconciler, controller_for, register

__all__ = ["Reconciler", "controller_for", "register"]
