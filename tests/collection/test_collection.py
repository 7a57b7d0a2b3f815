"""The project as the collection devops.scaling_lab: the tarball ansible-galaxy builds is small
and holds no tests, evidence, venv, molecule scenarios or the dev symlink; installed (offline,
its dependencies from the `ansible` bundle) into a temp dir and used from another temp dir, away
from this checkout's ansible.cfg and .collections link, its FQCN playbooks parse and its roles
run by FQCN with a real effect."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import ansible
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Where the `ansible` package keeps its bundled collections (community.docker, ...).
BUNDLED = Path(ansible.__file__).resolve().parents[1]
MAX_BYTES = 1024 * 1024
# Top-level paths that must stay out of the tarball.
EXCLUDED = {"tests", "artifacts", ".venv", "molecule", ".collections", ".git", ".ci"}
PLAYBOOKS = ["site", "drain_demo", "loadtest", "chaos", "k8s"]

pytestmark = pytest.mark.collection


def tool(name: str) -> str:
    exe = BIN / name
    return str(exe) if exe.exists() else name


def run(cmd: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)


def detail(result: subprocess.CompletedProcess[str]) -> str:
    out, err = result.stdout[-4000:], result.stderr[-4000:]
    return f"rc={result.returncode}\nstdout:\n{out}\nstderr:\n{err}"


@pytest.fixture(scope="module")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    result = run(
        [tool("ansible-galaxy"), "collection", "build", str(ROOT), "--output-path", str(out)],
        env,
        out,
    )
    assert result.returncode == 0, detail(result)
    [built] = out.glob("devops-scaling_lab-*.tar.gz")
    return built


@pytest.fixture(scope="module")
def installed(tarball: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The collections dir the tarball was installed into (offline: the dependencies must be
    satisfied by the collections the `ansible` package bundles)."""
    dest = tmp_path_factory.mktemp("collections")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["ANSIBLE_COLLECTIONS_PATH"] = f"{dest}:{BUNDLED}"
    cmd = [tool("ansible-galaxy"), "collection", "install", "--offline", str(tarball)]
    result = run([*cmd, "-p", str(dest)], env, dest)
    assert result.returncode == 0, detail(result)
    assert (dest / "ansible_collections/devops/scaling_lab/MANIFEST.json").is_file()
    return dest


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty cwd with its own ansible.cfg: neither this checkout's ansible.cfg (ANSIBLE_CONFIG
    is dropped) nor a user's ~/.ansible.cfg applies."""
    (tmp_path / "ansible.cfg").write_text("[defaults]\nretry_files_enabled = False\n")
    return tmp_path


def collection_env(installed: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_COLLECTIONS_PATH=f"{installed}:{BUNDLED}",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
    )
    return env


def example_inventory(directory: Path) -> Path:
    """inventory/hosts.example.yml (VMs over SSH at documentation addresses: never reached)."""
    inv = yaml.safe_load((ROOT / "inventory" / "hosts.example.yml").read_text())
    path = directory / "hosts.yml"
    path.write_text(yaml.safe_dump(inv))
    return path


def test_checkout_resolves_to_live_tree(tmp_path: Path) -> None:
    """With the checkout's ansible.cfg, devops.scaling_lab is this working tree (through the
    .collections link, the first collections_path entry) and no other copy exists on the path:
    ansible-lint puts ~/.ansible/collections before it, so a copy there would be linted instead."""
    link = ROOT / ".collections/ansible_collections/devops/scaling_lab"
    assert link.is_symlink() and link.resolve() == ROOT
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    cmd = [tool("ansible-galaxy"), "collection", "list", "devops.scaling_lab", "--format", "json"]
    result = run(cmd, env, tmp_path)
    assert result.returncode == 0, detail(result)
    found = [path for path, cols in json.loads(result.stdout).items() if cols]
    assert found == [str(ROOT / ".collections/ansible_collections")], (
        f"copies of devops.scaling_lab besides the working tree: {found}; remove them"
    )
    doc = run(
        [tool("ansible-doc"), "-t", "module", "devops.scaling_lab.lab_archive"], env, tmp_path
    )
    assert f"({link}/plugins/modules/lab_archive.py)" in doc.stdout, detail(doc)


def test_tarball_is_small_and_clean(tarball: Path) -> None:
    size = tarball.stat().st_size
    assert size < MAX_BYTES, f"{tarball.name} is {size} bytes"
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
        member = tar.extractfile("MANIFEST.json")
        assert member is not None
        manifest = json.load(member)
    tops = {name.split("/", 1)[0] for name in names}
    assert not tops & EXCLUDED, sorted(tops & EXCLUDED)
    assert not [n for n in names if "__pycache__" in n or "/.cache" in n or n.endswith(".pyc")]
    assert not [n for n in names if "/tests/" in n or n.startswith("tests/")]
    info = manifest["collection_info"]
    assert (info["namespace"], info["name"]) == ("devops", "scaling_lab")
    # What the installed roles read beside them, and the collection's own plugins.
    for needed in (
        "app/docker-compose.swarm.yml",
        "app/Dockerfile",
        "loadtest/locustfile.py",
        "loadtest/profiles.yml",
        "playbooks/site.yml",
        "playbooks/drain_demo.yml",
        "playbooks/loadtest.yml",
        "playbooks/loadtest_run.yml",
        "playbooks/k8s.yml",
        "app/k8s/seed/k8s-deployment.yaml",
        "app/k8s/lab/kustomization.yaml",
        "kube/diagnose.py",
        "plugins/filter/k8s_manifest.py",
        "plugins/filter/k8s_pods.py",
        "plugins/filter/lab_validate.py",
        "plugins/filter/stack_routing.py",
        "plugins/filter/registry_htpasswd.py",
        "plugins/modules/lab_archive.py",
        "meta/runtime.yml",
        "roles/lab_validate/meta/argument_specs.yml",
    ):
        assert needed in names, needed


def test_installed_copy_is_the_one_used(installed: Path, workdir: Path) -> None:
    env = collection_env(installed)
    result = run(
        [tool("ansible-galaxy"), "collection", "list", "devops.scaling_lab", "--format", "json"],
        env,
        workdir,
    )
    assert result.returncode == 0, detail(result)
    found = {path: cols for path, cols in json.loads(result.stdout).items() if cols}
    assert list(found) == [str(installed / "ansible_collections")], found
    assert found[str(installed / "ansible_collections")]["devops.scaling_lab"]["version"] == "1.0.0"


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_fqcn_playbook_syntax(installed: Path, workdir: Path, playbook: str) -> None:
    inv = example_inventory(workdir)
    cmd = [tool("ansible-playbook"), "-i", str(inv), f"devops.scaling_lab.{playbook}"]
    result = run([*cmd, "--syntax-check"], collection_env(installed), workdir)
    assert result.returncode == 0, detail(result)
    expected = installed / f"ansible_collections/devops/scaling_lab/playbooks/{playbook}.yml"
    assert f"playbook: {expected}" in result.stdout, detail(result)


def test_fqcn_site_refuses_bad_input(installed: Path, workdir: Path) -> None:
    """The installed site playbook's first play (role lab_validate, filter
    devops.scaling_lab.lab_spec_errors, the roles' specs read beside the role) refuses a bad
    value before anything else runs; the SSH hosts are never contacted."""
    inv = example_inventory(workdir)
    artifacts = workdir / "artifacts"
    cmd = [tool("ansible-playbook"), "-vv", "-i", str(inv), "devops.scaling_lab.site"]
    extra = ["-e", "registry_mode=bogus", "-e", f"lab_artifacts_dir={artifacts}"]
    result = run([*cmd, *extra], collection_env(installed), workdir)
    assert result.returncode != 0, detail(result)
    assert "registry_mode = 'bogus': must be one of tls, tls_auth (role registry)" in result.stdout
    role = installed / "ansible_collections/devops/scaling_lab/roles/lab_validate"
    task_paths = [ln for ln in result.stdout.splitlines() if ln.startswith("task path: ")]
    assert any(str(role) in ln for ln in task_paths), detail(result)
    assert not [ln for ln in task_paths if str(installed) not in ln], task_paths
    assert "manager1" not in result.stdout, detail(result)
    assert not artifacts.exists()


def test_fqcn_role_archives(installed: Path, workdir: Path) -> None:
    """Role devops.scaling_lab.lab_archive (module devops.scaling_lab.lab_archive) from the
    installed copy moves the previous outputs into runs/<timestamp>/, keeping their names."""
    data = workdir / "data"
    (data / "evidence").mkdir(parents=True)
    (data / "evidence" / "drill.json").write_text('{"earlier": "run"}\n')
    (data / "REPORT.md").write_text("# earlier run\n")
    (data / "keep.txt").write_text("not listed\n")
    play = [
        {
            "name": "Archive with the installed collection's role",
            "hosts": "localhost",
            "gather_facts": False,
            "roles": [
                {
                    "role": "devops.scaling_lab.lab_archive",
                    "vars": {
                        "lab_archive_dir": str(data),
                        "lab_archive_paths": ["evidence", "REPORT.md", "loadtest"],
                        "lab_archive_keep": 2,
                    },
                }
            ],
        }
    ]
    playbook = workdir / "archive.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False))
    inv = workdir / "localhost.yml"
    inv.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        "localhost": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": sys.executable,
                        }
                    }
                }
            }
        )
    )
    cmd = [tool("ansible-playbook"), "-vv", "-i", str(inv), str(playbook)]
    result = run(cmd, collection_env(installed), workdir)
    assert result.returncode == 0, detail(result)
    assert f"config file = {workdir / 'ansible.cfg'}" in result.stdout, detail(result)
    role = installed / "ansible_collections/devops/scaling_lab/roles/lab_archive"
    assert f"task path: {role}/tasks/main.yml" in result.stdout, detail(result)
    task_paths = [ln for ln in result.stdout.splitlines() if ln.startswith("task path: ")]
    assert not [ln for ln in task_paths if str(ROOT) in ln], task_paths

    [run_dir] = (data / "runs").iterdir()
    assert (run_dir / "evidence" / "drill.json").read_text() == '{"earlier": "run"}\n'
    assert (run_dir / "REPORT.md").read_text() == "# earlier run\n"
    assert not (data / "evidence").exists()
    assert not (data / "REPORT.md").exists()
    assert (data / "keep.txt").read_text() == "not listed\n"
    assert "changed=1" in result.stdout

    again = run(cmd, collection_env(installed), workdir)
    assert again.returncode == 0, detail(again)
    assert "Nothing to archive" in again.stdout
    assert "changed=0" in again.stdout
    assert [p.name for p in (data / "runs").iterdir()] == [run_dir.name]
