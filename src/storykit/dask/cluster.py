"""The cluster a job runs on: Dask imported when used, and :func:`client`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import distributed


def _dask() -> Any:
    try:
        import dask
        import dask.bag
    except ImportError as e:  # pragma: no cover - the extra is installed where this is tested
        raise ImportError("storykit.dask needs Dask: pip install 'storykit[dask]'") from e
    return dask


def _client() -> distributed.Client | None:
    """The distributed client ``dask.compute`` runs on now, or None (another scheduler)."""
    import dask

    if dask.config.get("scheduler", None) not in ("dask.distributed", "distributed"):
        return None
    try:
        from distributed import default_client
    except ImportError:  # pragma: no cover - the scheduler says distributed is there
        return None
    try:
        client: distributed.Client = default_client()
    except ValueError:  # (no client)
        return None
    return client


# --- the cluster ----------------------------------------------------------------------------


@contextlib.contextmanager
def client(scheduler: str | None = "local", *, n_workers: int = 2,
           timeout: float = 10) -> Iterator[distributed.Client]:
    """A ``distributed.Client`` for ``scheduler`` while the block runs, closed after it.

    ``"local"`` (or ``None``) starts a ``LocalCluster`` of ``n_workers`` worker processes, one
    thread each, on 127.0.0.1; anything else is a scheduler address (``tcp://host:8786``). A
    scheduler that cannot be reached in ``timeout`` seconds raises ``ConnectionError`` with a
    one-line message.
    """
    _dask()
    import distributed

    if scheduler in (None, "local"):
        with distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1,
                                      processes=True, host="127.0.0.1",
                                      dashboard_address="127.0.0.1:0") as cluster, \
                distributed.Client(cluster) as c:
            yield c
        return
    try:
        c = distributed.Client(scheduler, timeout=f"{timeout}s")
    except (OSError, TimeoutError, ValueError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ConnectionError(f"cannot reach the Dask scheduler at {scheduler}: {reason}") from None
    with c:
        yield c
