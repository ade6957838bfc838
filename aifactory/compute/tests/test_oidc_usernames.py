"""Cluster usernames from the identity provider: a cluster whose settings name a claim
(``oidc_username_claim``) takes each person's username from that claim at every OIDC sign-in.

The whole sign-in runs as in accounts/tests/test_oidc.py: the real django-oauth-toolkit provider
as a subprocess, the hub in the live server, httpx as the browser. This module starts its own
provider with its own people, whose claims a test may change between two sign-ins (the provider
reads them from people.json on every request). The test provider releases only standard claims,
so the clusters here use ``preferred_username`` and ``nickname``; any claim name works the same.
"""

import json
import logging
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import httpx
import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from aifactory.accounts.models import User
from aifactory.accounts.tests.test_oidc import (  # noqa: F401 - fixtures
    CLIENT_ID,
    CLIENT_SECRET,
    PROVIDER_PASSWORD,
    Provider,
    me,
    oidc,
    running_provider,
    sign_in,
)
from aifactory.compute import services
from aifactory.compute.models import Cluster, ClusterAccount, Job
from aifactory.core.models import AuditEvent

from .helpers import *  # noqa: F403 - the fixtures
from .helpers import make_cluster

LOGGER = "aifactory.compute.services.clusters"

# The people this provider knows, and the claims it releases about them unless a test changes them.
PEOPLE = {
    "gina": {
        "email": "gina.hoffmann@example.lu",
        "email_verified": True,
        "given_name": "Gina",
        "preferred_username": "ghoffmann",
        "nickname": "gina",
    },
    "hugo": {
        "email": "hugo.klein@example.lu",
        "email_verified": True,
        "given_name": "Hugo",
        "preferred_username": "hklein",
    },
}


@dataclass
class ClaimsProvider(Provider):
    data: Path

    def release(self, person: str, **claims) -> None:
        """From now on the provider releases these claims about the person (None: not at all)."""
        people = json.loads((self.data / "people.json").read_text())
        released = people[person]["claims"]
        for name, value in claims.items():
            if value is None:
                released.pop(name, None)
            else:
                released[name] = value
        (self.data / "people.json").write_text(json.dumps(people))

    def reset(self) -> None:
        people = {
            name: {"password": PROVIDER_PASSWORD, "claims": claims}
            for name, claims in PEOPLE.items()
        }
        (self.data / "people.json").write_text(json.dumps(people))


@pytest.fixture(scope="session")
def provider(live_server, tmp_path_factory):
    """This module's provider (overrides test_oidc's, which `oidc` then uses too)."""
    data = tmp_path_factory.mktemp("oidc-usernames-provider")
    found = ClaimsProvider(url="", data=data)
    found.reset()
    with running_provider(live_server, data) as url:
        found.url = url
        yield found


@pytest.fixture
def idp(oidc, provider, compute_dir):  # noqa: F811 - the fixture imported above
    """Sign-in with the provider on, its people's claims as in PEOPLE, and two clusters that take
    usernames from a claim (``laptop``: preferred_username; ``meluxina``: nickname) beside one
    that does not (``plain``)."""
    provider.reset()
    clusters = {
        "laptop": make_cluster(
            "laptop", config={"max_jobs": 2, "oidc_username_claim": "preferred_username"}
        ),
        "meluxina": make_cluster(
            "meluxina",
            backend="slurm",
            config={
                "mode": "cli",
                "workdir_root": str(compute_dir),
                "oidc_username_claim": "nickname",
            },
        ),
        "plain": make_cluster("plain"),
    }
    return provider, clusters


def signed_in(live_server, provider, person: str) -> httpx.Client:
    """A new browser (the provider would otherwise remember the last sign-in) through the whole
    sign-in as `person`; it lands on the hub signed in."""
    browser = httpx.Client(trust_env=False, timeout=20)
    landed = sign_in(browser, live_server, provider, person)
    assert landed == "/dashboard/", landed
    assert me(browser, live_server).status_code in (200, 403)  # 403: the terms come first
    return browser


def usernames(user) -> dict[str, tuple[str, str]]:
    return {
        a.cluster.name: (a.username, a.source)
        for a in ClusterAccount.objects.filter(user=user).select_related("cluster")
    }


def system_events(user) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            action="cluster.account_set", actor_repr="system", changes__user=str(user.pk)
        ).order_by("created_at")
    )


def test_the_claim_maps_a_new_person_on_each_cluster_that_asks_for_it(idp, live_server):
    provider, clusters = idp

    signed_in(live_server, provider, "gina").close()

    gina = User.objects.get(email="gina.hoffmann@example.lu")
    assert usernames(gina) == {"laptop": ("ghoffmann", "oidc"), "meluxina": ("gina", "oidc")}
    events = {e.object_repr: e.changes for e in system_events(gina)}
    assert events["laptop"]["username"] == ["", "ghoffmann"]
    assert events["laptop"]["source"] == ["", "oidc"]
    assert events["laptop"]["claim"] == "preferred_username"
    assert events["meluxina"]["claim"] == "nickname"
    assert set(events) == {"laptop", "meluxina"}


def test_a_changed_claim_changes_the_mapping_and_a_missing_one_keeps_it(
    idp, live_server, make_user
):
    provider, clusters = idp
    gina = make_user("gina.hoffmann@example.lu")  # an existing account: the update path
    signed_in(live_server, provider, "gina").close()
    assert usernames(gina)["laptop"] == ("ghoffmann", "oidc")

    provider.release("gina", preferred_username="gina_h")
    signed_in(live_server, provider, "gina").close()
    assert usernames(gina)["laptop"] == ("gina_h", "oidc")
    assert system_events(gina)[-1].changes["username"] == ["ghoffmann", "gina_h"]

    # The same claim again writes nothing; a claim the provider stops sending removes nothing.
    before = len(system_events(gina))
    signed_in(live_server, provider, "gina").close()
    provider.release("gina", preferred_username=None, nickname=None)
    signed_in(live_server, provider, "gina").close()
    assert usernames(gina) == {"laptop": ("gina_h", "oidc"), "meluxina": ("gina", "oidc")}
    assert len(system_events(gina)) == before


def test_an_operators_mapping_is_never_replaced_by_the_claim(idp, live_server, make_user):
    provider, clusters = idp
    gina = make_user("gina.hoffmann@example.lu")
    operator = make_user("operator@factory.example", staff_role="operator")
    services.cluster_account_set(
        actor=operator, cluster=clusters["laptop"], user=gina, username="g_hoffmann"
    )
    signed_in(live_server, provider, "gina").close()
    assert usernames(gina) == {"laptop": ("g_hoffmann", "operator"), "meluxina": ("gina", "oidc")}

    # An operator's word also replaces a mapping that came from the claim, and then stays.
    services.cluster_account_set(
        actor=operator, cluster=clusters["meluxina"], user=gina, username="gina2"
    )
    event = AuditEvent.objects.filter(action="cluster.account_set").latest("created_at")
    assert event.actor_id == operator.pk and event.changes["source"] == ["oidc", "operator"]
    provider.release("gina", nickname="gina3")
    signed_in(live_server, provider, "gina").close()
    assert usernames(gina) == {
        "laptop": ("g_hoffmann", "operator"),
        "meluxina": ("gina2", "operator"),
    }
    assert {e.object_repr for e in system_events(gina)} == {"meluxina"}  # the first sign-in only


@pytest.mark.parametrize(
    "value",
    ["Gina", "root", "slurm", "1gina", "gina hoffmann", "g" * 33, "", 42, ["gina"]],
    ids=["capital", "root", "slurm", "digit", "space", "too-long", "empty", "number", "list"],
)
def test_an_invalid_claim_is_logged_and_skipped_and_the_sign_in_works(
    idp, live_server, make_user, caplog, value
):
    provider, clusters = idp
    gina = make_user("gina.hoffmann@example.lu")
    provider.release("gina", preferred_username=value)

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        browser = signed_in(live_server, provider, "gina")
    assert me(browser, live_server).json()["id"] == str(gina.pk)
    browser.close()

    assert usernames(gina) == {"meluxina": ("gina", "oidc")}
    [warning] = [r for r in caplog.records if r.name == LOGGER]
    assert "laptop" in warning.getMessage() and "preferred_username" in warning.getMessage()


def test_an_invalid_claim_keeps_the_mapping_from_a_valid_one(idp, live_server, make_user):
    provider, clusters = idp
    gina = make_user("gina.hoffmann@example.lu")
    signed_in(live_server, provider, "gina").close()
    provider.release("gina", preferred_username="root")
    signed_in(live_server, provider, "gina").close()
    assert usernames(gina)["laptop"] == ("ghoffmann", "oidc")


def test_a_username_someone_else_has_on_the_cluster_is_refused(idp, live_server, make_user, caplog):
    provider, clusters = idp
    gina = make_user("gina.hoffmann@example.lu")
    hugo = make_user("hugo.klein@example.lu")
    services.cluster_account_set(
        actor=None, cluster=clusters["laptop"], user=hugo, username="ghoffmann"
    )
    signed_in(live_server, provider, "hugo").close()
    assert usernames(hugo) == {"laptop": ("ghoffmann", "operator")}  # hklein: the operator's wins

    # Two claims for one username: the second person gets it nowhere, the sign-in still works.
    provider.release("hugo", nickname="gina")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        signed_in(live_server, provider, "gina").close()
        signed_in(live_server, provider, "hugo").close()

    assert usernames(gina) == {"meluxina": ("gina", "oidc")}
    assert usernames(hugo) == {"laptop": ("ghoffmann", "operator")}
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(messages) == 2
    assert "laptop" in messages[0] and "belongs to someone else" in messages[0]
    assert "meluxina" in messages[1] and "belongs to someone else" in messages[1]
    assert ClusterAccount.objects.filter(username="ghoffmann").count() == 1


def test_a_username_jobs_or_usage_recorded_for_another_person_is_refused(team, compute_dir, caplog):
    """A look-alike identity (preferred_username=alice) may not take a real cluster user's name
    before they sign in: jobs or usage on the cluster recorded for someone else (or for no one
    the portal knows) keep it from the claim. The person's own records do not."""
    from .helpers import open_project, usage

    cluster = make_cluster(config={"max_jobs": 2, "oidc_username_claim": "preferred_username"})
    allocation = open_project(team, cluster.name).allocations.get()
    # alice used the cluster outside the portal; bob's job ran from the portal as the PI.
    usage(cluster, allocation, "101", cpu_core_hours=1, username="alice")
    common = {"project": allocation.project, "allocation": allocation, "cluster": cluster}
    common.update(script="true", time_limit_minutes=1, name="run")
    Job.objects.create(reference="J-1", user=team["pi"], username="bob", **common)
    Job.objects.create(reference="J-2", user=team["member"], username="mem", **common)
    usage(cluster, allocation, "102", username="mem", user=team["member"])

    intruder = team["outsider"]
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for name in ("alice", "bob", "mem"):
            claims = {"preferred_username": name}
            assert services.cluster_accounts_from_claims(user=intruder, claims=claims) == []
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(messages) == 3 and all("belongs to someone else" in m for m in messages)
    assert not ClusterAccount.objects.filter(user=intruder).exists()

    # The member's own records: their claim maps them; a name no one used maps too.
    [account] = services.cluster_accounts_from_claims(
        user=team["member"], claims={"preferred_username": "mem"}
    )
    assert (account.username, account.source) == ("mem", "oidc")
    [account] = services.cluster_accounts_from_claims(
        user=intruder, claims={"preferred_username": "newcomer"}
    )
    assert account.username == "newcomer"


def broken_hook(*, user, claims):
    """A sign-in hook that fails, for the test below."""
    ClusterAccount.objects.create(cluster_id=None, user=user, username="half")


def test_a_failing_sign_in_hook_is_rolled_back_and_the_sign_in_works(idp, live_server, settings):
    provider, clusters = idp
    settings.OIDC_SIGN_IN_HOOKS = [
        f"{__name__}.broken_hook",
        *settings.OIDC_SIGN_IN_HOOKS,
    ]
    signed_in(live_server, provider, "gina").close()
    gina = User.objects.get(email="gina.hoffmann@example.lu")
    assert usernames(gina) == {"laptop": ("ghoffmann", "oidc"), "meluxina": ("gina", "oidc")}
    assert not ClusterAccount.objects.filter(username="half").exists()


# --- the setting -------------------------------------------------------------------------------


@pytest.mark.parametrize("claim", ["", "  ", "two words", "x" * 101, 7, None])
def test_the_claim_setting_is_checked(db, compute_dir, claim):
    with pytest.raises(ValidationError) as error:
        make_cluster(config={"oidc_username_claim": claim})
    assert "config.oidc_username_claim" in error.value.error_dict


def run(*args) -> str:
    out = StringIO()
    call_command("clusters", *args, stdout=out)
    return out.getvalue()


def test_the_claim_setting_through_the_cli(db, compute_dir):
    claim = "https://idp.example.lu/claims/uid"
    added = run("add", "gpu1", "--backend", "local", "--config", f"oidc_username_claim= {claim} ")
    assert "added cluster gpu1" in added
    assert Cluster.objects.get(name="gpu1").config == {"oidc_username_claim": claim}

    # update sets one setting and keeps the others; KEY= removes one.
    run("update", "gpu1", "--config", "max_jobs=3", "oidc_username_claim=preferred_username")
    cluster = Cluster.objects.get(name="gpu1")
    assert cluster.config == {"max_jobs": 3, "oidc_username_claim": "preferred_username"}
    assert AuditEvent.objects.filter(action="cluster.update", object_id=str(cluster.pk)).exists()
    run("update", "gpu1", "--config", "oidc_username_claim=", "--title", "GPU one")
    cluster.refresh_from_db()
    assert (cluster.config, cluster.title) == ({"max_jobs": 3}, "GPU one")

    with pytest.raises(CommandError, match="--config oidc_username_claim"):
        run("update", "gpu1", "--config", "oidc_username_claim=two words")
    with pytest.raises(CommandError, match="--config oidc_claim"):
        run("update", "gpu1", "--config", "oidc_claim=sub")
    assert Cluster.objects.get(name="gpu1").config == {"max_jobs": 3}
