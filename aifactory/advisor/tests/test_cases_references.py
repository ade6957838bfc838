"""Reference numbers stay unique when many people open cases at the same moment."""

import threading

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from aifactory.advisor.models import Case
from aifactory.advisor.services import cases as services

pytestmark = pytest.mark.django_db(transaction=True)


def _open_side_by_side(customer_org, count: int) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i):
        try:
            barrier.wait(timeout=30)
            results[i] = services.case_open(
                actor=customer_org["owner"], organisation=customer_org["org"], need=f"Frage {i}"
            ).reference
        except Exception as exc:  # noqa: BLE001 - the test reports what each thread raised
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_concurrent_openings_get_distinct_numbers(catalogue, customer_org):
    results = _open_side_by_side(customer_org, 6)
    assert all(isinstance(r, str) for r in results), results
    year = timezone.localdate().year
    assert sorted(results) == [f"C-{year}-{n:05d}" for n in range(1, 7)]
    assert Case.objects.count() == 6


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite serialises writers; no two can collide"
)
def test_a_taken_number_is_retried(catalogue, customer_org):
    """Both openers read the same highest number while the table is locked for writes, so both
    try the same reference; the unique index refuses one, which takes the next number."""
    import time

    results: list = [None, None]
    started = threading.Barrier(3)

    def run(i):
        try:
            started.wait(timeout=30)
            results[i] = services.case_open(
                actor=customer_org["owner"], organisation=customer_org["org"], need=f"Frage {i}"
            ).reference
        except Exception as exc:  # noqa: BLE001
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {Case._meta.db_table} IN EXCLUSIVE MODE")
        for thread in threads:
            thread.start()
        started.wait(timeout=30)
        time.sleep(1.5)  # both read the highest number and wait to insert
    for thread in threads:
        thread.join(timeout=60)
    year = timezone.localdate().year
    assert sorted(results) == [f"C-{year}-00001", f"C-{year}-00002"], results
