"""The Slurm backend against the real single-node cluster (scripts/slurm/up.sh): accounts and
limits with sacctmgr, real jobs as aifuser1 through slurmrestd and through the CLI, statuses of
many jobs in one call, cancel, a time limit, a spent budget that Slurm enforces, and accounting
equal to what sacct reports.

The node has 2 CPUs and the time-limit job holds one of them for 60-90 s from the first test on;
everything else runs on the other CPU meanwhile, so the module takes about as long as that one
job."""

import base64
import contextlib
import json
import os
import pwd
import re
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest

from aifactory.compute.backends import backend_for
from aifactory.compute.backends.base import BackendRefused, BackendUnavailable, Limits
from aifactory.compute.backends.slurm import SlurmBackend, mint_token, wait_status_exit_code

from .slurm_helpers import *  # noqa: F403
from .slurm_helpers import (
    USERS,
    all_final,
    job_spec,
    make_backend,
    owner,
    sacct_rows,
    unique,
    wait_for,
)

BIG = Limits(gpu_minutes=100_000, cpu_minutes=100_000)
HELLO = (
    'echo "user=$(id -un) job=$SLURM_JOB_ID gpus=${CUDA_VISIBLE_DEVICES:-none} '
    'cpus=$SLURM_CPUS_ON_NODE greeting=$GREETING"\n'
    "echo to-stderr >&2\n"
)


@pytest.fixture(scope="module")
def project(slurm_accounts):
    """The project's account: both users, a budget far from spent."""
    return slurm_accounts("proj", limits=BIG)


@pytest.fixture(scope="module")
def timeout_job(slurm_backend, project):
    """The one slow job (Slurm ends a 1-minute job 60-90 s after it starts): the first test
    submits it, the last one checks it, the others run meanwhile."""
    spec = job_spec(project, "sleep 300\n", time_limit_minutes=1)
    return slurm_backend.submit(spec)


def assoc(account: str) -> dict[str, str]:
    """{user ('' for the account itself): GrpTRESMins} from sacctmgr."""
    out = subprocess.run(
        ["sacctmgr", "-n", "-P", "list", "assoc", f"account={account}", "format=user,grptresmins"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    return dict(line.split("|") for line in out.splitlines())


def test_provision_adds_account_users_and_budget_again_and_again(
    slurm_backend, slurm_accounts, timeout_job
):
    account = slurm_accounts("prov", usernames=[USERS[0]], limits=Limits(5, 30))
    assert assoc(account) == {"": "cpu=30,gres/gpu=5", USERS[0]: ""}
    # Again, with a second user and a new budget: nothing doubled, the limits replaced.
    slurm_backend.provision(account, list(USERS), Limits(gpu_minutes=7, cpu_minutes=None))
    slurm_backend.provision(account, list(USERS), Limits(gpu_minutes=7, cpu_minutes=None))
    assert assoc(account) == {"": "gres/gpu=7", USERS[0]: "", USERS[1]: ""}
    slurm_backend.provision(account, list(USERS), Limits(None, None))
    assert assoc(account)[""] == ""

    for bad, message in [
        (("Upper", [USERS[0]], BIG), "account"),
        ((account, ["root"], BIG), "root"),
        ((account, ["a b"], BIG), "username"),
        ((account, [USERS[0]], Limits(-1, None)), "gpu_minutes"),
    ]:
        with pytest.raises(BackendRefused, match=message):
            slurm_backend.provision(*bad)


def test_spent_budget_makes_slurm_hold_the_next_job(slurm_backend, slurm_accounts):
    """GrpTRESMins=gres/gpu=2 (GPU minutes). A 2-GPU 1-minute job fits and runs for 32 s; after
    that one GPU minute is spent (Slurm counts whole minutes) and the same job no longer fits:
    Slurm keeps it pending with the reason, while a CPU-only job of the account still runs. A job
    over a CPU budget waits likewise."""
    gpu_account = slurm_accounts("gpu", usernames=[USERS[0]], limits=Limits(2, 10_000))
    cpu_account = slurm_accounts("cpu", usernames=[USERS[0]], limits=Limits(None, 1))
    over_cpu = slurm_backend.submit(job_spec(cpu_account, "true\n", time_limit_minutes=2))
    first = slurm_backend.submit(job_spec(gpu_account, "sleep 32\n", gpus=2, time_limit_minutes=1))
    done = wait_for(slurm_backend, [first], all_final([first]), timeout=120)
    assert done[first].state == "completed"

    second = slurm_backend.submit(job_spec(gpu_account, "true\n", gpus=2, time_limit_minutes=1))
    cpu_only = slurm_backend.submit(job_spec(gpu_account, "true\n", time_limit_minutes=1))
    held = wait_for(
        slurm_backend,
        [second, over_cpu, cpu_only],
        lambda s: (
            s[second].reason.startswith("AssocGrp")
            and s[over_cpu].reason.startswith("AssocGrp")
            and s[cpu_only].state == "completed"
        ),
        timeout=60,
    )
    assert (held[second].state, held[second].reason) == ("pending", "AssocGrpGRESMinutes")
    assert (held[over_cpu].state, held[over_cpu].reason) == ("pending", "AssocGrpCPUMinutesLimit")
    time.sleep(1)  # and they stay held
    statuses = slurm_backend.statuses([second, over_cpu])
    assert {statuses[i].state for i in (second, over_cpu)} == {"pending"}
    for job_id in (second, over_cpu):
        slurm_backend.cancel(job_id, USERS[0])


def test_jobs_run_as_the_user_and_end_with_their_exit_codes(slurm_backend, project):
    good = job_spec(project, HELLO, gpus=1, environment={"GREETING": "moien"})
    bad = job_spec(project, "echo failing\nexit 3\n")
    ids = [slurm_backend.submit(good), slurm_backend.submit(bad)]
    assert all(i.isdigit() for i in ids) and ids[0] != ids[1]

    statuses = wait_for(slurm_backend, ids, all_final(ids))
    ok, failed = statuses[ids[0]], statuses[ids[1]]
    assert (ok.state, ok.exit_code, ok.node, ok.reason) == ("completed", 0, "localhost", "")
    assert (failed.state, failed.exit_code, failed.reason) == ("failed", 3, "NonZeroExitCode")
    for status in (ok, failed):
        assert status.started_at and status.ended_at and status.started_at <= status.ended_at
        assert status.started_at.tzinfo is not None
        assert abs(status.ended_at - datetime.now(UTC)) < timedelta(minutes=5)

    workdir = slurm_backend.workdir_for(good.job_key)
    assert owner(workdir) == USERS[0]
    assert owner(f"{workdir}/slurm-{ids[0]}.out") == USERS[0]
    logs = slurm_backend.logs(workdir, ids[0], tail_bytes=10_000)
    # CUDA_VISIBLE_DEVICES is the index of the fake GPU Slurm gave it: 0 or 1, whichever was free.
    assert re.fullmatch(
        rf"user={USERS[0]} job={ids[0]} gpus=[01] cpus=1 greeting=moien\n", logs["stdout"]
    )
    assert logs["stderr"] == "to-stderr\n"
    assert slurm_backend.logs(workdir, ids[0], tail_bytes=4)["stdout"] == "ien\n"
    bad_logs = slurm_backend.logs(slurm_backend.workdir_for(bad.job_key), ids[1], tail_bytes=100)
    assert bad_logs == {"stdout": "failing\n", "stderr": ""}


def test_statuses_of_many_jobs_in_one_call_and_from_sacct_once_forgotten(slurm_backend, project):
    ids = [slurm_backend.submit(job_spec(project, f"exit {code}\n")) for code in (0, 4)]
    running = slurm_backend.submit(job_spec(project, "sleep 60\n"))
    statuses = wait_for(slurm_backend, ids, all_final(ids))
    # Unknown ids and ids that are no Slurm job ids are left out.
    statuses = slurm_backend.statuses([*ids, running, "999999999", "../x"])
    assert set(statuses) == {*ids, running}
    assert statuses[running].state in ("pending", "running")
    assert statuses[running].exit_code is None and statuses[running].ended_at is None
    # Once slurmctld forgets a job (MinJobAge), sacct answers for it: the same, exit code too.
    from_sacct = slurm_backend._statuses_from_sacct(ids)
    for job_id in ids:
        assert from_sacct[job_id] == statuses[job_id]
    assert [statuses[i].exit_code for i in ids] == [0, 4]
    slurm_backend.cancel(running, USERS[0])


def test_cancel_as_the_owner_only(slurm_backend, project):
    spec = job_spec(project, "echo started\nsleep 300\n")
    job_id = slurm_backend.submit(spec)
    wait_for(slurm_backend, [job_id], lambda s: s[job_id].state == "running")
    with pytest.raises(BackendRefused, match="Access/permission denied"):
        slurm_backend.cancel(job_id, USERS[1])
    assert slurm_backend.statuses([job_id])[job_id].state == "running"

    slurm_backend.cancel(job_id, USERS[0])
    status = wait_for(slurm_backend, [job_id], all_final([job_id]))[job_id]
    assert status.state == "cancelled" and status.ended_at is not None
    slurm_backend.cancel(job_id, USERS[0])  # again: already done, no error
    slurm_backend.cancel("999999999", USERS[0])  # a job Slurm does not know (any more)


def test_slurm_refusals_and_unreachable_scheduler(slurm_backend, project, slurm_workdir_root):
    cases = [
        (job_spec("nosuchaccount", "true\n"), "2045.*Invalid account"),
        (job_spec(project, "true\n", partition="nosuchpartition"), "2000.*Invalid partition"),
        (job_spec(project, "true\n", gpus=3), "2014.*node configuration is not available"),
    ]
    for spec, message in cases:
        with pytest.raises(BackendRefused, match=message):
            slurm_backend.submit(spec)

    # Never as root or slurm, never outside the working folders: refused before Slurm is asked.
    for spec, message in [
        (job_spec(project, "id\n", username="root"), "never run as root"),
        (job_spec(project, "id\n", username="slurm"), "never run as slurm"),
        (job_spec(project, "id\n", workdir="/etc/cron.d"), "outside"),
        (job_spec(project, "id\n", workdir=f"{slurm_workdir_root}/../x"), "outside"),
        (job_spec(project, "id\n", job_key="../x"), "job_key"),
        (job_spec(project, "id\n", time_limit_minutes=0), "time_limit_minutes"),
    ]:
        with pytest.raises(BackendRefused, match=message):
            slurm_backend.submit(spec)
    with pytest.raises(BackendRefused, match="outside"):
        slurm_backend.logs("/etc", "1", tail_bytes=100)
    with pytest.raises(BackendRefused, match="outside"):
        slurm_backend.logs(f"{slurm_workdir_root}/../../etc", "1", tail_bytes=100)
    with pytest.raises(BackendRefused, match="external_id"):
        slurm_backend.logs(f"{slurm_workdir_root}/x", "../../passwd", tail_bytes=100)

    # slurmrestd not there, or not taking our token: try again later.
    down = make_backend(slurm_workdir_root, rest_url="http://127.0.0.1:9")
    with pytest.raises(BackendUnavailable, match="slurmrestd"):
        down.submit(job_spec(project, "true\n"))
    with pytest.raises(BackendUnavailable):
        down.statuses(["1"])
    wrong_key = make_backend(slurm_workdir_root)
    wrong_key._key = b"not the cluster's key, 32 bytes!"
    with pytest.raises(BackendUnavailable, match="5005|error"):
        wrong_key.submit(job_spec(project, "true\n"))
    no_key = make_backend(slurm_workdir_root, jwt_key_path="/nonexistent/key")
    with pytest.raises(BackendUnavailable, match="JWT key"):
        no_key.submit(job_spec(project, "true\n"))
    no_admin = make_backend(slurm_workdir_root, admin_user="")
    with pytest.raises(BackendUnavailable, match="admin_user"):
        no_admin.statuses(["1"])


def test_a_log_file_swapped_for_a_link_is_not_read(slurm_backend, slurm_workdir_root):
    folder = os.path.join(slurm_workdir_root, unique("links"))
    os.mkdir(folder)
    user = pwd.getpwnam(USERS[0])
    os.chown(folder, user.pw_uid, user.pw_gid)
    os.symlink("/etc/shadow", f"{folder}/slurm-7.out")
    # A hard link to a file the user does not own (where /etc is on the same disk).
    with contextlib.suppress(OSError):
        os.link("/etc/passwd", f"{folder}/slurm-7.err")
    assert slurm_backend.logs(folder, "7", tail_bytes=1000) == {"stdout": "", "stderr": ""}


def test_cli_mode_submits_as_the_user_and_cancels(slurm_workdir_root, project):
    cli = make_backend(slurm_workdir_root, mode="cli")
    spec = job_spec(project, HELLO, environment={"GREETING": "bonjour"})
    sleeper = job_spec(project, "sleep 300\n")
    ids = [cli.submit(spec), cli.submit(sleeper)]
    statuses = wait_for(cli, ids[:1], all_final(ids[:1]))
    assert (statuses[ids[0]].state, statuses[ids[0]].exit_code) == ("completed", 0)
    logs = cli.logs(cli.workdir_for(spec.job_key), ids[0], tail_bytes=1000)
    assert f"user={USERS[0]} job={ids[0]} gpus=none cpus=1 greeting=bonjour" in logs["stdout"]
    assert owner(f"{cli.workdir_for(spec.job_key)}/slurm-{ids[0]}.out") == USERS[0]

    with pytest.raises(BackendRefused, match="scancel"):
        cli.cancel(ids[1], USERS[1])  # as aifuser2: not theirs
    cli.cancel(ids[1], USERS[0])
    assert wait_for(cli, ids[1:], all_final(ids[1:]))[ids[1]].state == "cancelled"
    cli.cancel(ids[1], USERS[0])  # already done

    with pytest.raises(BackendRefused, match="Invalid account"):
        cli.submit(job_spec("nosuchaccount", "true\n"))


def test_accounting_equals_what_sacct_reports(slurm_backend, project):
    since = datetime.now(UTC) - timedelta(seconds=5)
    ids = [
        slurm_backend.submit(job_spec(project, "sleep 3\n", gpus=2)),
        slurm_backend.submit(job_spec(project, "sleep 1\nexit 2\n", username=USERS[1])),
    ]
    wait_for(slurm_backend, ids, all_final(ids))
    end = time.monotonic() + 30
    while True:  # slurmdbd gets the end of a job a moment after slurmctld
        lines = {line.external_id: line for line in slurm_backend.accounting(since)}
        if all(i in lines and lines[i].end for i in ids) or time.monotonic() > end:
            break
        time.sleep(0.5)
    rows = sacct_rows(ids, "elapsedraw,alloccpus,alloctres,account,user,state,start,end")
    for job_id in ids:
        line = lines[job_id]
        elapsed, cpus, tres, account, user, state, start, end_ = rows[job_id]
        gpus = dict(t.split("=") for t in tres.split(",")).get("gres/gpu", "0")
        assert line.step == ""
        assert (line.elapsed_seconds, line.cpus, line.gpus) == (int(elapsed), int(cpus), int(gpus))
        assert (line.account, line.username) == (account, user)
        assert line.state == {"COMPLETED": "completed", "FAILED": "failed"}[state]
        assert (line.end - line.start).total_seconds() == line.elapsed_seconds
        assert line.mem_mb_requested == 128
    assert (lines[ids[0]].gpus, lines[ids[0]].username) == (2, USERS[0])
    assert 3 <= lines[ids[0]].elapsed_seconds <= 10
    assert (lines[ids[1]].gpus, lines[ids[1]].username, lines[ids[1]].state) == (
        0,
        USERS[1],
        "failed",
    )
    # Only jobs that ran in the window: nothing from long before it.
    assert all(
        line.end is None or line.end >= since.replace(microsecond=0) for line in lines.values()
    )
    # sacct -S/-E: a window that ended before the jobs were submitted has neither of them; one
    # up to now has both (ingestion reads a long catch-up this way, a day at a time).
    earlier = slurm_backend.accounting(since - timedelta(hours=1), since - timedelta(minutes=30))
    assert not {line.external_id for line in earlier} & set(ids)
    window = slurm_backend.accounting(since, datetime.now(UTC) + timedelta(seconds=1))
    assert set(ids) <= {line.external_id for line in window}


def test_a_cluster_configured_in_the_portal_runs_jobs(slurm_cluster, project):
    """The settings pass the portal's checks and backend_for() gives this backend."""
    backend = backend_for(slurm_cluster)
    assert isinstance(backend, SlurmBackend)
    job_id = backend.submit(job_spec(project, "echo portal\n"))
    assert wait_for(backend, [job_id], all_final([job_id]))[job_id].state == "completed"


def test_job_past_its_time_limit_times_out(slurm_backend, timeout_job):
    """Slurm checks limits periodically and then waits KillWait: ~80 s after the start."""
    status = wait_for(slurm_backend, [timeout_job], all_final([timeout_job]), timeout=150, every=1)
    status = status[timeout_job]
    assert (status.state, status.reason, status.exit_code) == ("timeout", "TimeLimit", 128 + 15)
    assert 60 <= (status.ended_at - status.started_at).total_seconds() <= 120
    line = next(
        line
        for line in slurm_backend.accounting(status.started_at - timedelta(seconds=1))
        if line.external_id == timeout_job
    )
    assert line.state == "timeout" and line.elapsed_seconds >= 60


def test_tokens_and_exit_codes_as_slurm_makes_them():
    """What the key-minted token and the wait-status decoding rest on (see scripts/slurm)."""
    token = mint_token(b"k" * 32, "aifuser1", lifetime=60, now=1_000)
    header, claims, _signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert decoded == {"exp": 1_060, "iat": 1_000, "sun": "aifuser1"}
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": "HS256", "typ": "JWT"}
    assert [wait_status_exit_code(s) for s in (0, 768, 15, 9, None)] == [0, 3, 143, 137, None]


def test_a_token_from_the_environment_only_from_a_slurm_variable(monkeypatch, tmp_path):
    """Without the key, the admin user's token may come from the environment, but only from a
    SLURM_* variable: a cluster saved before the check cannot send the portal's secrets."""
    monkeypatch.setenv("SECRET_KEY", "the portal's secret")
    monkeypatch.setenv("SLURM_JWT_TEST", "a token from scontrol")
    missing = str(tmp_path / "no-key")
    leak = make_backend(
        str(tmp_path), jwt_key_path=missing, jwt_token_env="SECRET_KEY", admin_user="slurmrest"
    )
    with pytest.raises(BackendUnavailable, match="no JWT key"):
        leak._token("slurmrest")
    fine = make_backend(
        str(tmp_path), jwt_key_path=missing, jwt_token_env="SLURM_JWT_TEST", admin_user="slurmrest"
    )
    assert fine._token("slurmrest") == "a token from scontrol"
