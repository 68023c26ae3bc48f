"""``wav2lip-emotion app``: a local web page to translate a video or photo and look at the result.

* :mod:`.jobs`: :class:`JobRunner`, the queue of jobs, each run in a process of its own (cancellable);
* :mod:`.worker`: the work of one job (translate, then measure the emotions and the realism);
  its steps: :mod:`.translating` (translate with what this install takes), :mod:`.analysis` (the
  measurements), :mod:`.verdicts` (the realism checks), :mod:`.closeup` (the close-up of the face);
* :mod:`.inputs`: what the page may choose (samples, engines) and the checks of uploads;
* :mod:`.service`: :class:`AppService`, the page's logic without the page (sessions, folders, jobs);
* :mod:`.ui`: the Gradio page (needs the ``app`` extra: ``pip install 'wav2lip-emotion[app]'``).

Gradio is imported only by :func:`serve`, so the package and its command work without the extra.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import signal
import sys
from typing import Any

from .inputs import Limits
from .jobs import AppError, JobRequest, JobRunner, JobState, JobStatus
from .service import AppOptions, AppService

__all__ = [
    "AppError",
    "AppOptions",
    "AppService",
    "JobRequest",
    "JobRunner",
    "JobState",
    "JobStatus",
    "Limits",
    "require_gradio",
    "serve",
]

INSTALL_HINT = "pip install 'wav2lip-emotion[app]' (from a checkout: pip install -e '.[app]', or make demo)"


def require_gradio() -> None:
    """AppError with the install command when the ``app`` extra (Gradio) is missing."""
    if importlib.util.find_spec("gradio") is None:
        raise AppError(f"the web app needs Gradio, which is not installed; install it with: {INSTALL_HINT}")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(options: AppOptions, *, on_ready: Any = None) -> None:
    """Serve the page until Ctrl-C (or SIGTERM); every file the app made is removed on the way out."""
    require_gradio()
    service = AppService(options)
    # Gradio reads these when it is imported: its upload folder is the app's root, no telemetry
    os.environ["GRADIO_TEMP_DIR"] = str(service.root)
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        from .ui import launch

        _, url, _ = launch(service, block=False)
        where = "" if _is_loopback(options.host) else " (reachable from other machines: no login, no HTTPS)"
        print(
            f"wav2lip-emotion app: {url}{where}; engines: {', '.join(service.engines.labels)}",
            file=sys.stderr,
            flush=True,
        )
        print(
            f"temporary files: {service.root} (removed when the app stops); Ctrl-C to stop", file=sys.stderr, flush=True
        )
        if on_ready is not None:
            on_ready(url)
        signal.pause() if hasattr(signal, "pause") else _wait_forever()
    except KeyboardInterrupt:
        print("wav2lip-emotion app: stopping", file=sys.stderr, flush=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
        service.close()


def _wait_forever() -> None:  # pragma: no cover - platforms without signal.pause
    import threading

    threading.Event().wait()
