"""scripts/role_docs.py: the role READMEs' variable tables come from the argument specs, and
`make lint` fails when a table or defaults/main.yml drifts from them."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.pathload import load

ROOT = Path(__file__).resolve().parents[2]
mod = load("role_docs", "scripts/role_docs.py")


def a_role(roles: Path) -> Path:
    role = roles / "demo"
    (role / "meta").mkdir(parents=True)
    (role / "defaults").mkdir()
    (role / "meta" / "argument_specs.yml").write_text(
        "argument_specs:\n"
        "  main:\n"
        "    options:\n"
        "      demo_mode: {type: str, choices: [a, b], default: a, description: The mode.}\n"
        "      demo_dir: {type: path, description: Where.}\n"
        "  extra:\n"
        "    options:\n"
        "      demo_dir: {type: path, description: Where.}\n"
    )
    (role / "defaults" / "main.yml").write_text("demo_mode: a\ndemo_dir: '{{ x }}/y'\n")
    (role / "README.md").write_text(
        "# demo\n\n| Variable | Default | Meaning |\n|---|---|---|\n| old |\n\nMore.\n"
    )
    return role


def test_the_project_is_in_sync() -> None:
    assert mod.main(["--check"]) == 0


def test_a_table_is_generated_in_place_of_the_old_one(tmp_path: Path) -> None:
    role = a_role(tmp_path)
    assert mod.main(["--check", "--roles", str(tmp_path)]) == 1
    assert mod.main(["--roles", str(tmp_path)]) == 0
    text = (role / "README.md").read_text()
    assert "| old |" not in text and text.endswith("More.\n")
    assert "| `demo_mode` | `a` | The mode. One of: `a`, `b`. |" in text
    assert "| `demo_dir` | `{{ x }}/y` | Where. (entry points: `main`, `extra`) |" in text
    assert mod.main(["--check", "--roles", str(tmp_path)]) == 0


def test_a_spec_change_makes_the_table_stale(tmp_path: Path, capsys) -> None:
    role = a_role(tmp_path)
    mod.main(["--roles", str(tmp_path)])
    spec = role / "meta" / "argument_specs.yml"
    spec.write_text(spec.read_text().replace("The mode.", "The new mode."))
    assert mod.main(["--check", "--roles", str(tmp_path)]) == 1
    assert "demo: README.md's variable table is not the one" in capsys.readouterr().err


def test_defaults_that_disagree_with_the_spec_are_named(tmp_path: Path, capsys) -> None:
    role = a_role(tmp_path)
    mod.main(["--roles", str(tmp_path)])
    (role / "defaults" / "main.yml").write_text("demo_mode: b\ndemo_dir: x\ndemo_extra: 1\n")
    assert mod.main(["--check", "--roles", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "demo: demo_mode defaults to 'b' in defaults/main.yml but to 'a'" in err
    assert "demo: demo_extra is in defaults/main.yml but not in meta/argument_specs.yml" in err


def test_a_real_role_copied_and_edited_fails_the_check(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "roles" / "swarm", tmp_path / "swarm")
    assert mod.main(["--check", "--roles", str(tmp_path)]) == 0
    readme = tmp_path / "swarm" / "README.md"
    readme.write_text(readme.read_text().replace("`swarm_state`", "`swarm_status`"))
    assert mod.main(["--check", "--roles", str(tmp_path)]) == 1
