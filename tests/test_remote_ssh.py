"""Issue 16: a DVC remote over a real OpenSSH server on loopback (``dvc-ssh``), tested the way a team uses it.

The test starts Debian's ``sshd`` (installed by ``.ci/run`` where missing) on a free 127.0.0.1 port with its own
host key and one authorized client key, makes a small DVC project (two stages, a parameter, a metric), runs it and
an experiment, pushes the outputs and the run cache over SSH, clones the project afresh, pulls, and checks that
nothing is recomputed: ``dvc status`` is clean, ``dvc repro`` runs no stage, and ``dvc exp run`` of the parameter
set already run comes from the run cache. Its stages' outputs are all cached (DVC pushes only cached outputs,
and a run-cache restore needs every output of the stage). The full pipeline is pushed and pulled through a local
remote in ``tests/test_pipeline_integration.py``; this test is about the transport and the run cache.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _run(cmd: list[str], cwd: Path) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc.stdout + proc.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An OpenSSH server on 127.0.0.1 accepting one generated key for the current user; its connection settings."""
    if not Path(SSHD).is_file() or not shutil.which("ssh-keygen"):
        pytest.skip("no OpenSSH server here (.ci/run installs Debian's openssh-server)")
    keys = tmp_path / "ssh"
    keys.mkdir(mode=0o700)
    for name in ("host", "client"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / name)], check=True
        )
    authorized = keys / "authorized_keys"
    authorized.write_text((keys / "client.pub").read_text())
    authorized.chmod(0o600)
    port = _free_port()
    config = keys / "sshd_config"
    config.write_text(
        textwrap.dedent(
            f"""\
            Port {port}
            ListenAddress 127.0.0.1
            HostKey {keys / "host"}
            AuthorizedKeysFile {authorized}
            PidFile {keys / "sshd.pid"}
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PermitRootLogin prohibit-password
            UsePAM no
            StrictModes no
            Subsystem sftp internal-sftp
            """
        )
    )
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory
    server = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 20
    while True:
        if server.poll() is not None:
            pytest.fail(f"sshd exited ({server.returncode}): {server.stderr.read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                pytest.fail("sshd did not listen within 20 s")
            time.sleep(0.1)
    yield {"port": str(port), "keyfile": str(keys / "client"), "user": getpass.getuser()}
    server.terminate()
    server.wait(timeout=10)


def _project(root: Path) -> Path:
    """A git + DVC project: ``make`` writes a data folder, ``scale`` reads it and the parameter ``scale``."""
    root.mkdir()
    (root / "make.py").write_text(
        "from pathlib import Path\n"
        "Path('data').mkdir(exist_ok=True)\n"
        "for i in range(3):\n"
        "    Path(f'data/part{i}.txt').write_text(str(i) * 1000)\n"
    )
    (root / "scale.py").write_text(
        "import json, yaml\nfrom pathlib import Path\n"
        "scale = yaml.safe_load(open('params.yaml'))['scale']\n"
        "total = sum(len(p.read_text()) for p in Path('data').iterdir())\n"
        "Path('scaled.txt').write_text(str(total * scale))\n"
        "Path('metrics.json').write_text(json.dumps({'total': total * scale}))\n"
    )
    (root / "params.yaml").write_text("scale: 2\n")
    (root / "dvc.yaml").write_text(
        textwrap.dedent(
            """\
            stages:
              make:
                cmd: python make.py
                deps: [make.py]
                outs: [data]
              scale:
                cmd: python scale.py
                deps: [scale.py, data]
                params: [scale]
                outs: [scaled.txt]
                metrics: [metrics.json]
            """
        )
    )
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        _run(cmd, root)
    _run(["dvc", "repro"], root)
    _run(["git", "add", "-A"], root)
    _run([*git, "commit", "-qm", "run"], root)
    return root


def _use_remote(repo: Path, url: str, sshd: dict[str, str]) -> None:
    _run(["dvc", "remote", "add", "--local", "-d", "team", url], repo)
    _run(["dvc", "remote", "modify", "--local", "team", "keyfile", sshd["keyfile"]], repo)
    _run(["dvc", "remote", "modify", "--local", "team", "user", sshd["user"]], repo)


def test_push_and_pull_over_ssh_restore_outputs_and_run_cache(sshd: dict[str, str], tmp_path: Path):
    first = _project(tmp_path / "first")
    storage = tmp_path / "remote"
    url = f"ssh://127.0.0.1:{sshd['port']}{storage}"
    _use_remote(first, url, sshd)
    out = _run(["dvc", "exp", "run", "-S", "scale=3"], first)
    assert "Running stage 'scale'" in out
    _run(["dvc", "push", "--run-cache"], first)  # the experiment's outputs and every run's record
    _run(["git", "checkout", "-q", "--", "."], first)  # back to the committed run
    _run(["dvc", "checkout", "-q"], first)
    _run(["dvc", "push"], first)
    assert (storage / "files" / "md5").is_dir() and (storage / "runs").is_dir()

    fresh = tmp_path / "fresh"
    _run(["git", "clone", "-q", str(first), str(fresh)], tmp_path)
    assert not (fresh / "data").exists()
    _use_remote(fresh, url, sshd)
    _run(["dvc", "pull", "--run-cache"], fresh)
    assert (fresh / "data" / "part2.txt").read_text() == "2" * 1000
    assert "Data and pipelines are up to date" in _run(["dvc", "status"], fresh)
    assert "Running stage" not in _run(["dvc", "repro"], fresh)
    # the experiment of the first clone comes from the pulled run cache (its outputs fetched by --pull)
    out = _run(["dvc", "exp", "run", "--pull", "-S", "scale=3"], fresh)
    assert "Running stage" not in out, out
    assert "Stage 'scale' is cached - skipping run" in out, out
    assert (fresh / "scaled.txt").read_text() == str(3 * 3000)
