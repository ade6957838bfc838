"""Authorization rules of access to data (requests, grants, the access log, download, preview,
SQL), merged in matrix_rules.py.

Organisation A publishes ``matrix-restricted`` (restricted, one version with a CSV and its Parquet
copy) and ``matrix-ask`` (restricted, nothing asked yet). The outsider asked for
``matrix-restricted`` for organisation B (pending); organisation "Matrix C" holds a live grant.
A's manager and owner are its data stewards; A's members read its data; staff see the published
metadata but read and decide nothing."""

import functools
import tempfile
from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from aifactory.accounts import services as account_services
from aifactory.core.tests.matrix import ANON_401, API, LOGIN, Rule, by_role
from aifactory.data.models import (
    AccessRequest,
    Dataset,
    DatasetVersion,
    Distribution,
    Grant,
    RequestStatus,
    VersionStatus,
)
from aifactory.data.storage import get_storage, new_key

STEWARDS = frozenset({"manager", "owner"})
PUBLISHER = {"member": 200, "manager": 200, "owner": 200}
DS = "/datasets/matrix-restricted"
REQ = "{w.data_request.pk}"
GRANT = "{w.data_grant.pk}"


@functools.cache
def _files() -> tuple[bytes, bytes]:
    """The CSV and its Parquet copy, made once per test process."""
    import duckdb

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.parquet"
        con = duckdb.connect()
        con.execute(f"COPY (SELECT 1 AS id, 'Esch' AS name) TO '{path}' (FORMAT parquet)")
        con.close()
        return b"id,name\n1,Esch\n", path.read_bytes()


def _dataset(world, slug: str) -> Dataset:
    return Dataset.objects.create(
        publisher=world.org,
        identifier=f"aifh-{slug}",
        slug=slug,
        title={"en": slug},
        access_rights="restricted",
        status="published",
        use_conditions="Research only.",
    )


def _request(dataset, user, organisation, status=RequestStatus.PENDING) -> AccessRequest:
    return AccessRequest.objects.create(
        dataset=dataset,
        requester=user,
        organisation=organisation,
        project="M",
        purpose="Matrix.",
        duration_days=30,
        status=status,
    )


def setup(world):
    dataset = _dataset(world, "matrix-restricted")
    _dataset(world, "matrix-ask")
    version = DatasetVersion.objects.create(dataset=dataset, number=1, status=VersionStatus.READY)
    csv, parquet = _files()
    storage = get_storage()
    key, pq_key = new_key("data.csv"), new_key("data.parquet")
    stored = storage.put_stream(key, [csv], max_bytes=2**20)
    storage.put_stream(pq_key, [parquet], max_bytes=2**20)
    Distribution.objects.create(
        version=version,
        name="data.csv",
        media_type="text/csv",
        format="csv",
        size=stored.size,
        sha256=stored.sha256,
        storage_key=key,
        parquet_key=pq_key,
        row_count=1,
        schema=[{"name": "id", "type": "INTEGER"}, {"name": "name", "type": "VARCHAR"}],
        profile_status="done",
    )
    world.data_request = _request(dataset, world.users["outsider"], world.other_org)
    grantee = account_services.user_create(
        email="grantee@matrix.test", password="matrix-Pass-123", email_verified=True
    )
    grantee_org = account_services.organisation_create(
        actor=grantee, data={"legal_name": "Matrix C", "country": "LU", "kind": "research"}
    )
    granted = _request(dataset, grantee, grantee_org, RequestStatus.APPROVED)
    world.data_grant = Grant.objects.create(
        dataset=dataset,
        organisation=grantee_org,
        request=granted,
        expires_at=timezone.now() + timedelta(days=30),
    )


def _asked(w, role):
    user = w.users[role]
    return (
        user is not None
        and AccessRequest.objects.filter(dataset__slug="matrix-ask", requester=user).exists()
    )


def _status(value):
    def check(w, role):
        return AccessRequest.objects.get(pk=w.data_request.pk).status == value

    return check


def _revoked(w, role):
    return Grant.objects.get(pk=w.data_grant.pk).revoked_at is not None


def _ask_body(w, role):
    org = w.other_org if role == "outsider" else w.org
    return {
        "organisation": str(org.pk),
        "project": "M",
        "purpose": "Matrix.",
        "duration_days": 10,
        "accept_conditions": True,
    }


# Who may see the pending request: the requester (outsider) and the stewards.
REQUEST_SEEN = {"outsider": 200, "manager": 200, "owner": 200}

RULES: dict[str, Rule] = {
    # --- API ------------------------------------------------------------------------------------
    "api:data_request_create": Rule(
        "post",
        API + "/datasets/matrix-ask/requests",
        # Staff belong to no organisation (422); the publisher's members need no request (403).
        by_role(422, **ANON_401, outsider=201, member=403, manager=403, owner=403),
        body=_ask_body,
        effect=_asked,
        done_by=frozenset({"outsider"}),
    ),
    "api:data_requests_list": Rule("get", API + "/data-requests", by_role(200, **ANON_401)),
    "api:data_request_read": Rule(
        "get", API + f"/data-requests/{REQ}", by_role(404, **ANON_401, **REQUEST_SEEN)
    ),
    "api:data_request_approve": Rule(
        "post",
        API + f"/data-requests/{REQ}/approve",
        by_role(404, **ANON_401, outsider=403, manager=200, owner=200),
        body={},
        effect=_status(RequestStatus.APPROVED),
        done_by=STEWARDS,
    ),
    "api:data_request_refuse": Rule(
        "post",
        API + f"/data-requests/{REQ}/refuse",
        by_role(404, **ANON_401, outsider=403, manager=200, owner=200),
        body={"reason": "No."},
        effect=_status(RequestStatus.REFUSED),
        done_by=STEWARDS,
    ),
    "api:data_request_withdraw": Rule(
        "post",
        API + f"/data-requests/{REQ}/withdraw",
        by_role(404, **ANON_401, outsider=200, manager=403, owner=403),
        effect=_status(RequestStatus.WITHDRAWN),
        done_by=frozenset({"outsider"}),
    ),
    "api:dataset_grants": Rule(
        "get", API + DS + "/grants", by_role(403, **ANON_401, manager=200, owner=200)
    ),
    "api:grant_revoke": Rule(
        "post",
        API + f"/grants/{GRANT}/revoke",
        by_role(404, **ANON_401, manager=200, owner=200),
        body={"reason": "Ended."},
        effect=_revoked,
        done_by=STEWARDS,
    ),
    "api:dataset_access_log": Rule(
        "get", API + DS + "/access-log", by_role(403, **ANON_401, manager=200, owner=200)
    ),
    # Open to anonymous callers for open data; this dataset is restricted, so 403.
    "api:file_download": Rule(
        "get", API + DS + "/versions/1/files/data.csv", by_role(403, **PUBLISHER)
    ),
    "api:file_preview": Rule(
        "get", API + DS + "/versions/1/files/data.csv/preview", by_role(403, **PUBLISHER)
    ),
    # Tables one may not read do not exist in the query (422 naming the table).
    "api:data_query": Rule(
        "post",
        API + "/query",
        by_role(422, **ANON_401, **PUBLISHER),
        body={"sql": "SELECT count(*) FROM matrix_restricted"},
    ),
    # --- pages ----------------------------------------------------------------------------------
    "data_requests:request_create": Rule(
        "get",
        "/datasets/matrix-ask/access/request/",
        by_role(200, **LOGIN, member=403, manager=403, owner=403),
    ),
    "data_requests:request_list": Rule("get", "/data/requests/", by_role(200, **LOGIN)),
    "data_requests:inbox": Rule("get", "/data/requests/inbox/", by_role(200, **LOGIN)),
    "data_requests:request_detail": Rule(
        "get", f"/data/requests/{REQ}/", by_role(404, **LOGIN, **REQUEST_SEEN)
    ),
    "data_requests:request_withdraw": Rule(
        "post",
        f"/data/requests/{REQ}/withdraw/",
        by_role(404, **LOGIN, outsider=302, manager=403, owner=403),
        effect=_status(RequestStatus.WITHDRAWN),
        done_by=frozenset({"outsider"}),
    ),
    "data_requests:request_approve": Rule(
        "post",
        f"/data/requests/{REQ}/approve/",
        by_role(404, **LOGIN, outsider=403, manager=302, owner=302),
        body={"conditions": ""},
        effect=_status(RequestStatus.APPROVED),
        done_by=STEWARDS,
    ),
    "data_requests:request_refuse": Rule(
        "post",
        f"/data/requests/{REQ}/refuse/",
        by_role(404, **LOGIN, outsider=403, manager=302, owner=302),
        body={"reason": "No."},
        effect=_status(RequestStatus.REFUSED),
        done_by=STEWARDS,
    ),
    "data_requests:grant_list": Rule(
        "get", DS + "/access/grants/", by_role(403, **LOGIN, manager=200, owner=200)
    ),
    "data_requests:grant_revoke": Rule(
        "post",
        f"/data/grants/{GRANT}/revoke/",
        by_role(404, **LOGIN, manager=302, owner=302),
        body={"reason": "Ended."},
        effect=_revoked,
        done_by=STEWARDS,
    ),
    "data_requests:access_log": Rule(
        "get", DS + "/access/log/", by_role(403, **LOGIN, manager=200, owner=200)
    ),
    "data_requests:download": Rule("get", DS + "/v/1/files/data.csv", by_role(403, **PUBLISHER)),
    "data_requests:preview": Rule(
        "get", DS + "/v/1/files/data.csv/preview/", by_role(403, **PUBLISHER)
    ),
    "data_requests:query": Rule("get", "/data/query/", by_role(200, **LOGIN)),
}
