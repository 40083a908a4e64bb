"""A service's background loops (the audit relay, the ledger signer, the expert pool's
notifications and evaluation deliveries): one daemon thread each, started and stopped with the app."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod


class BackgroundLoop(ABC):
    """A daemon thread running :meth:`_run` until :meth:`stop`. :meth:`wake` cuts an idle wait
    (:meth:`_sleep`) short; :meth:`_stop`'s event ends every wait. Subclasses write ``_run``."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        """Ask for a round now (a request wrote something for the loop)."""
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _sleep(self, seconds: float) -> None:
        """Idle wait: :meth:`wake` or :meth:`stop` cuts it short."""
        self._wake.wait(seconds)
        self._wake.clear()

    @abstractmethod
    def _run(self) -> None:
        """The loop itself, in the thread: run until ``self._stop`` is set (waiting through
        :meth:`_sleep` or on ``self._stop``)."""
