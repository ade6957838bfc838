"""The operators' cluster pages: add a cluster with its backend settings, rates and energy
figures, change it, add and change partitions, and map people to cluster usernames. Operators
can; anyone else gets 403 and nothing changes; bad input shows the error next to the field it is
about and writes nothing."""

import pytest
from django.test import Client

from aifactory.compute import services
from aifactory.compute.models import Cluster, ClusterAccount, Partition
from aifactory.compute.services.clusters import CONFIG_KEYS, SERVER_ONLY_KEYS
from aifactory.core.models import AuditEvent

from .helpers import *  # noqa: F403 - the fixtures


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def slurm_data(**more):
    data = {
        "name": "meluxina",
        "title": "MeluXina-AI",
        "backend": "slurm",
        "rates.gpu_hour": "1.5",
        "rates.cpu_hour": "0.02",
        "power.gpu_watts": "700",
        "power.node_watts": "900",
        "pue": "1.15",
        "grid": "60",
        "sync_seconds": "20",
        "config.mode": "rest",
        "config.admin_user": "slurmrest",
        "config.workdir_root": "/project/scratch/aifactory",
        "config.create_workdir": "false",
        "config.timeout_seconds": "30",
        # The local backend's settings are on the page too; they are not used for Slurm.
        "config.max_jobs": "7",
    }
    data.update(more)
    return data


def audit_actions(obj) -> list[str]:
    return list(AuditEvent.objects.filter(object_id=str(obj.pk)).values_list("action", flat=True))


# --- add a cluster -----------------------------------------------------------------------------


def test_operator_adds_a_slurm_cluster_with_its_settings(team):
    client = client_for(team["operator"])
    page = client.get("/clusters/new/").content.decode()
    assert 'name="config.workdir_root"' in page and 'name="config.max_jobs"' in page
    assert 'name="rates.gpu_hour"' in page and 'name="pue"' in page
    # Every backend setting once, also those both backends have; the server-only ones never.
    for key in {key for keys in CONFIG_KEYS.values() for key in keys}:
        expected = 0 if key in SERVER_ONLY_KEYS else 1
        assert page.count(f'name="config.{key}"') == expected, key
    response = client.post("/clusters/new/", slurm_data())
    assert response.status_code == 302 and response["Location"] == "/clusters/#cluster-meluxina"
    cluster = Cluster.objects.get(name="meluxina")
    assert cluster.backend == "slurm" and cluster.title == "MeluXina-AI"
    assert cluster.config == {
        "mode": "rest",
        "admin_user": "slurmrest",
        "workdir_root": "/project/scratch/aifactory",
        "create_workdir": False,
        "timeout_seconds": 30,
    }
    assert (str(cluster.rate_gpu_hour), str(cluster.rate_cpu_hour)) == ("1.5000", "0.0200")
    assert (cluster.gpu_watts, cluster.node_watts, str(cluster.pue)) == (700, 900, "1.15")
    assert (cluster.grid_g_co2_per_kwh, cluster.sync_seconds) == (60, 20)
    assert "cluster.create" in audit_actions(cluster)
    page = client.get("/clusters/").content.decode()
    assert "Cluster meluxina is added." in page and 'id="cluster-meluxina"' in page


def test_a_local_cluster_with_defaults(team):
    data = {"name": "laptop", "backend": "local", "config.max_jobs": "3"}
    response = client_for(team["operator"]).post("/clusters/new/", data)
    assert response.status_code == 302
    cluster = Cluster.objects.get(name="laptop")
    assert cluster.config == {"max_jobs": 3}
    assert (cluster.gpu_watts, cluster.sync_seconds, str(cluster.pue)) == (400, 15, "1.20")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"config.workdir_root": ""}, "config.workdir_root", "Give the folder on the cluster"),
        ({"config.timeout_seconds": "soon"}, "config.timeout_seconds", "Enter a whole number."),
        ({"pue": "0.8"}, "pue", "A PUE is 1 or more."),
        ({"name": "Melu Xina"}, "name", "lower-case letters"),
        ({"power.gpu_watts": "-3"}, "power.gpu_watts", "Enter a whole number from 0"),
        ({"sync_seconds": "0"}, "sync_seconds", "Enter a whole number from 1 to 86400"),
    ],
)
def test_bad_input_names_the_field_and_adds_nothing(team, change, field, message):
    response = client_for(team["operator"]).post("/clusters/new/", slurm_data(**change))
    page = response.content.decode()
    assert response.status_code == 422
    assert f'id="id_{field}_error"' in page, field
    assert message in page
    assert (
        not Cluster.objects.exists()
        and not AuditEvent.objects.filter(action="cluster.create").exists()
    )


def test_a_name_taken_is_refused_on_the_name(team, cluster):
    response = client_for(team["operator"]).post("/clusters/new/", slurm_data(name=cluster.name))
    page = response.content.decode()
    assert response.status_code == 422 and 'id="id_name_error"' in page
    assert "A cluster with this name exists already." in page
    assert Cluster.objects.get().backend == "local"


# --- change a cluster --------------------------------------------------------------------------


def test_operator_changes_rates_energy_sync_and_settings(team, cluster):
    client = client_for(team["operator"])
    page = client.get(f"/clusters/{cluster.name}/edit/").content.decode()
    # The cluster's values fill the form; name and backend stay; only its backend's settings.
    assert 'name="name"' not in page and 'name="backend"' not in page
    assert 'name="config.workdir_root"' not in page and 'name="config.max_jobs"' in page
    assert 'value="2.0000"' in page and 'value="600"' in page  # rate per GPU hour, node watts
    data = {
        "title": "The laptop",
        "is_active": "on",
        "rates.gpu_hour": "3",
        "rates.cpu_hour": "0.25",
        "power.gpu_watts": "350",
        "power.node_watts": "500",
        "pue": "1.4",
        "grid": "55",
        "sync_seconds": "30",
        "config.max_jobs": "4",
        "config.kill_grace_seconds": "1",
        "config.allow_in_production": "true",
    }
    response = client.post(f"/clusters/{cluster.name}/edit/", data)
    assert response.status_code == 302
    cluster.refresh_from_db()
    assert cluster.title == "The laptop" and cluster.is_active
    assert (str(cluster.rate_gpu_hour), str(cluster.rate_cpu_hour)) == ("3.0000", "0.2500")
    assert (cluster.gpu_watts, cluster.node_watts, str(cluster.pue)) == (350, 500, "1.40")
    assert (cluster.grid_g_co2_per_kwh, cluster.sync_seconds) == (55, 30)
    assert cluster.config == {
        "max_jobs": 4,
        "kill_grace_seconds": 1.0,
        "allow_in_production": True,
    }
    assert "cluster.update" in audit_actions(cluster)
    # Unticking "active" takes it out of the job form.
    response = client.post(f"/clusters/{cluster.name}/edit/", {**data, "is_active": ""})
    cluster.refresh_from_db()
    assert response.status_code == 302 and not cluster.is_active


def test_a_bad_change_shows_the_field_and_changes_nothing(team, cluster):
    before = Cluster.objects.values().get(pk=cluster.pk)
    client = client_for(team["operator"])
    for field, value, message in [
        ("grid", "-1", "Enter a whole number from 0"),
        ("config.max_jobs", "0", "Enter a whole number from 1"),
        ("config.run_as", "root", "Jobs never run as root or slurm."),
        ("rates.gpu_hour", "abc", "Enter a number."),
    ]:
        response = client.post(
            f"/clusters/{cluster.name}/edit/", {"title": "Changed", "pue": "2", field: value}
        )
        page = response.content.decode()
        assert response.status_code == 422 and f'id="id_{field}_error"' in page, field
        assert message in page, field
    assert Cluster.objects.values().get(pk=cluster.pk) == before
    assert "cluster.update" not in audit_actions(cluster)
    assert client.get("/clusters/nowhere/edit/").status_code == 404


# --- settings only the server sets ---------------------------------------------------------------

SERVER_ONLY = "Set on the server: aifactory clusters update NAME --config"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("sacctmgr", "/tmp/evil.sh"),
        ("rest_url", "http://attacker.example:6820"),
        ("jwt_token_env", "SLURM_JWT"),
        ("jwt_key_path", "/etc/slurm/jwt_hs256.key"),
    ],
)
def test_a_web_operator_cannot_set_a_server_only_setting(team, api, key, value):
    """The form has no such field (one posted by hand is ignored); the API, which passes the
    settings as given, is refused with the error on the field, and nothing is saved."""
    client = client_for(team["operator"])
    assert f'name="config.{key}"' not in client.get("/clusters/new/").content.decode()
    response = client.post("/clusters/new/", slurm_data(**{f"config.{key}": value}))
    assert response.status_code == 302
    assert key not in Cluster.objects.get(name="meluxina").config
    body = {"name": "other", "backend": "slurm", "config": {"workdir_root": "/w", key: value}}
    response = api(team["operator"]).post("/clusters", body)
    assert response.status_code == 422
    assert list(response.json()["errors"]) == [f"config.{key}"]
    assert SERVER_ONLY in str(response.json()["errors"])
    assert not Cluster.objects.filter(name="other").exists()


def test_server_only_settings_on_the_edit_page(team, compute_dir):
    """The CLI (actor None) sets them; the edit page shows them read-only, a web change keeps
    them, and a change of them through the service by a person is refused and saves nothing."""
    from django.core.exceptions import ValidationError

    cluster = services.cluster_create(
        actor=None,
        name="meluxina",
        backend="slurm",
        config={
            "workdir_root": "/w",
            "rest_url": "http://10.0.0.5:6820",
            "sacctmgr": "/opt/slurm/bin/sacctmgr",
            "jwt_token_env": "SLURM_JWT",
        },
    )
    client = client_for(team["operator"])
    url = f"/clusters/{cluster.name}/edit/"
    page = client.get(url).content.decode()
    assert 'name="config.rest_url"' not in page and 'name="config.sacctmgr"' not in page
    assert '<dd id="server-setting-rest_url"><code>http://10.0.0.5:6820</code>' in page
    assert '<dd id="server-setting-sacctmgr"><code>/opt/slurm/bin/sacctmgr</code>' in page
    # A web edit keeps them; a server-only value posted by hand is not a field and is ignored.
    data = {"title": "MeluXina", "config.workdir_root": "/w2", "config.rest_url": "http://x:1"}
    response = client.post(url, data)
    assert response.status_code == 302
    cluster.refresh_from_db()
    assert cluster.title == "MeluXina"
    assert cluster.config == {
        "workdir_root": "/w2",
        "rest_url": "http://10.0.0.5:6820",
        "sacctmgr": "/opt/slurm/bin/sacctmgr",
        "jwt_token_env": "SLURM_JWT",
    }
    before = Cluster.objects.values().get(pk=cluster.pk)
    for key, value in [
        ("sacctmgr", "/tmp/evil.sh"),
        ("rest_url", "http://attacker.example:6820"),
        ("rest_url", None),  # taking it away is a change too
    ]:
        config = dict(cluster.config, **{key: value})
        config = {k: v for k, v in config.items() if v is not None}
        with pytest.raises(ValidationError) as error:
            services.cluster_update(actor=team["operator"], cluster=cluster, config=config)
        assert list(error.value.error_dict) == [f"config.{key}"]
        assert SERVER_ONLY in " ".join(error.value.messages)
    assert Cluster.objects.values().get(pk=cluster.pk) == before
    # A person giving them as they are is fine; the CLI changes them.
    services.cluster_update(actor=team["operator"], cluster=cluster, config=dict(cluster.config))
    services.cluster_update(
        actor=None, cluster=cluster, config=dict(cluster.config, sacctmgr="/usr/bin/sacctmgr")
    )
    cluster.refresh_from_db()
    assert cluster.config["sacctmgr"] == "/usr/bin/sacctmgr"


@pytest.mark.parametrize("name", ["SECRET_KEY", "DATABASE_URL", "slurm_jwt", "SLURM_"])
def test_the_token_variable_is_one_of_slurms_for_everyone(db, name):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        services.cluster_create(
            actor=None,
            name="meluxina",
            backend="slurm",
            config={"workdir_root": "/w", "jwt_token_env": name},
        )
    assert list(error.value.error_dict) == ["config.jwt_token_env"]
    assert not Cluster.objects.exists()


# --- partitions --------------------------------------------------------------------------------


def test_operator_adds_and_changes_partitions(team, cluster):
    client = client_for(team["operator"])
    data = {
        "name": "gpu-large",
        "nodes": "4",
        "gpus_per_node": "8",
        "gpu_type": "h100",
        "cpus_per_node": "64",
        "mem_gb_per_node": "512",
        "max_time_minutes": "2880",
        "is_default": "on",
    }
    response = client.post(f"/clusters/{cluster.name}/partitions/new/", data)
    assert response.status_code == 302
    large = Partition.objects.get(cluster=cluster, name="gpu-large")
    assert (large.nodes, large.gpus_per_node, large.gpu_type, large.is_default) == (
        4,
        8,
        "h100",
        True,
    )
    assert not Partition.objects.get(cluster=cluster, name="main").is_default  # the mark moved
    url = f"/clusters/{cluster.name}/partitions/main/edit/"
    page = client.get(url).content.decode()
    assert 'name="name"' not in page and 'value="600"' in page
    response = client.post(url, {**data, "name": "ignored", "nodes": "2", "is_default": ""})
    main = Partition.objects.get(cluster=cluster, name="main")
    assert response.status_code == 302 and main.nodes == 2 and main.gpu_type == "h100"
    assert Partition.objects.filter(cluster=cluster).count() == 2
    page = client.get("/clusters/").content.decode()
    assert "gpu-large" in page and f"/clusters/{cluster.name}/partitions/gpu-large/edit/" in page
    assert client.get(f"/clusters/{cluster.name}/partitions/nope/edit/").status_code == 404


def test_a_bad_partition_names_the_field_and_saves_nothing(team, cluster):
    client = client_for(team["operator"])
    base = {"name": "cpu", "nodes": "1", "gpus_per_node": "0", "cpus_per_node": "2"}
    base.update(mem_gb_per_node="4", max_time_minutes="60")
    for field, value, message in [
        ("nodes", "0", "Enter a whole number from 1"),
        ("max_time_minutes", "0", "Enter a whole number from 1"),
        ("name", "CPU!", "lower-case letters"),
        ("cpus_per_node", "x", "Enter a whole number."),
    ]:
        response = client.post(f"/clusters/{cluster.name}/partitions/new/", {**base, field: value})
        page = response.content.decode()
        assert response.status_code == 422 and f'id="id_{field}_error"' in page, field
        assert message in page, field
    assert list(cluster.partitions.values_list("name", flat=True)) == ["main"]


# --- cluster usernames -------------------------------------------------------------------------


def test_operator_maps_people_to_usernames(team, cluster, accounts):
    ClusterAccount.objects.filter(user=team["pi"]).update(source="oidc")
    client = client_for(team["operator"])
    url = f"/clusters/{cluster.name}/accounts/"
    page = client.get(url).content.decode()
    assert 'id="account-member_lab"' in page and 'id="account-pi_lab"' in page
    assert 'data-source="oidc">identity provider<' in page
    assert 'data-source="operator">operator<' in page
    response = client.post(url, {"person": "MANAGER@lab.example", "username": "mgr_lab"})
    assert response.status_code == 302 and response["Location"] == url
    account = ClusterAccount.objects.get(user=team["manager"])
    assert (account.username, account.source) == ("mgr_lab", "operator")
    page = client.get(url).content.decode()
    assert "manager@lab.example runs jobs on laptop as mgr_lab." in page
    # Changing a mapping: the link fills the form; the new name replaces the old one.
    assert "?person=member%40lab.example&amp;username=member_lab" in page
    page = client.get(url + "?person=member@lab.example&username=member_lab").content.decode()
    assert 'value="member@lab.example"' in page
    response = client.post(url, {"person": "member@lab.example", "username": "member2"})
    assert response.status_code == 302
    assert ClusterAccount.objects.get(user=team["member"]).username == "member2"


def test_a_bad_mapping_names_the_field_and_saves_nothing(team, cluster, accounts):
    client = client_for(team["operator"])
    url = f"/clusters/{cluster.name}/accounts/"
    for data, field, message in [
        ({"person": "manager@lab.example", "username": "pi_lab"}, "username", "belongs to"),
        ({"person": "manager@lab.example", "username": "root"}, "username", "never run as root"),
        ({"person": "manager@lab.example", "username": "Bad Name"}, "username", "Unix username"),
        ({"person": "nobody@lab.example", "username": "nobody1"}, "person", "No one with this"),
    ]:
        response = client.post(url, data)
        page = response.content.decode()
        assert response.status_code == 422 and f'id="id_{field}_error"' in page, data
        assert message in page, data
    assert set(ClusterAccount.objects.values_list("username", flat=True)) == {
        "pi_lab",
        "member_lab",
    }


# --- who may -----------------------------------------------------------------------------------


def test_only_operators_configure_clusters(team, cluster, accounts):
    name = cluster.name
    before = Cluster.objects.values().get(pk=cluster.pk)
    for who in ("member", "pi", "outsider"):
        client = client_for(team[who])
        for url in (
            "/clusters/new/",
            f"/clusters/{name}/edit/",
            f"/clusters/{name}/partitions/new/",
            f"/clusters/{name}/partitions/main/edit/",
            f"/clusters/{name}/accounts/",
        ):
            assert client.get(url).status_code == 403, (who, url)
        assert client.post("/clusters/new/", slurm_data()).status_code == 403
        assert client.post(f"/clusters/{name}/edit/", {"pue": "3"}).status_code == 403
        response = client.post(
            f"/clusters/{name}/partitions/new/",
            {"name": "x", "nodes": "1", "gpus_per_node": "0", "cpus_per_node": "1"},
        )
        assert response.status_code == 403
        response = client.post(
            f"/clusters/{name}/accounts/",
            {"person": team[who].email, "username": f"{who}_own"},
        )
        assert response.status_code == 403
    assert Client().get("/clusters/new/").status_code == 302  # to the sign-in page
    assert list(Cluster.objects.values_list("name", flat=True)) == [name]
    assert Cluster.objects.values().get(pk=cluster.pk) == before
    assert list(cluster.partitions.values_list("name", flat=True)) == ["main"]
    assert ClusterAccount.objects.count() == 2
    # The list links to the pages for operators.
    page = client_for(team["operator"]).get("/clusters/").content.decode()
    assert 'id="cluster-new-link"' in page and f'id="cluster-edit-{name}"' in page
    assert f'id="partition-new-{name}"' in page and f'id="accounts-link-{name}"' in page


def test_cluster_pages_in_german(team, cluster, accounts):
    client = client_for(team["operator"])
    headers = {"Accept-Language": "de"}
    page = client.get("/clusters/new/", headers=headers).content.decode()
    assert "Neuer Cluster" in page and "Einstellungen des Slurm-Backends" in page
    page = client.get(f"/clusters/{cluster.name}/accounts/", headers=headers).content.decode()
    assert "Eine Person einem Benutzernamen zuordnen" in page


def test_services_still_refuse_a_member_directly(team, cluster):
    """The pages' 403 rests on the same rule the services check."""
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.cluster_update(actor=team["member"], cluster=cluster, pue="2")
