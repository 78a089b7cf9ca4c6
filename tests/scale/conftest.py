"""A LocalCluster of 2 single-threaded worker processes on 127.0.0.1, shared by the scale tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def dask_client() -> Iterator[object]:
    import logging

    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
    client = Client(cluster)
    client.wait_for_workers(2, timeout=60)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
