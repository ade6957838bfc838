"""The demo applications and project: loaded through the services after the demo modes."""

import pytest

from aifactory.access.demo import load_demo_access
from aifactory.access.demo_applications import PROJECT, SCRIPT, load_demo_applications
from aifactory.access.models import Application, Project
from aifactory.accounts.demo import seed_demo


def test_demo_applications_show_each_state(db):
    seed_demo()
    load_demo_access()
    line = load_demo_applications()
    assert line.startswith(f"demo applications: {len(SCRIPT)} created")
    states = dict(Application.objects.values_list("title", "status"))
    assert states == {title: state for title, _gpu, _months, state in SCRIPT}
    project = Project.objects.get(title=PROJECT)
    allocation = project.allocations.get()
    assert allocation.tranches.count() >= 12
    assert project.members.get().role == "pi"
    # A second run changes nothing.
    assert load_demo_applications().startswith("demo applications: 0 created")
    assert Application.objects.count() == len(SCRIPT) and Project.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_demo_sends_no_mail():
    """Committed for real, so the e-mails queued on commit would go out: none does."""
    from django.core import mail

    seed_demo()
    load_demo_access()
    mail.outbox.clear()
    load_demo_applications()
    assert Application.objects.count() == len(SCRIPT)
    assert mail.outbox == []
