"""The environment has one source: pyproject.toml's pins, locked in requirements.lock, used by environment.yml."""
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]


def locked() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if match:
            pins[match[1].lower().replace("_", "-")] = match[2]
    return pins


def test_the_lock_satisfies_every_requirement_of_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["test"]
    pins = locked()
    for text in requirements:
        requirement = Requirement(text)
        name = requirement.name.lower().replace("_", "-")
        assert name in pins, f"{name} is in pyproject.toml but not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {name}=={pins[name]}, outside pyproject's {requirement.specifier}: run `make lock`")


def test_torch_pins_are_the_projects():
    pins = locked()
    assert (pins["torch"], pins["torchvision"]) == ("2.14.1", "0.29.1")


def test_environment_yml_installs_the_lock_not_a_second_list():
    text = (REPO / "environment.yml").read_text()
    assert "-c requirements.lock" in text and "-e .[test]" in text
    assert "==" not in text, "environment.yml must not repeat pins: they live in pyproject.toml / requirements.lock"
