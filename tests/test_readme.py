"""The README starts with the install and test commands, and .ci/run runs exactly those."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def first_code_block(text: str) -> list[str]:
    match = re.search(r"```[a-z]*\n(.*?)```", text, flags=re.S)
    assert match, "README.md has no code block"
    return [line.strip() for line in match.group(1).splitlines() if line.strip()]


def test_readme_starts_with_install_and_test_commands_that_ci_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    install, test = first_code_block(readme)
    assert readme.index("```") < readme.index("\n## "), "the commands come before any section"
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    assert install in ci and test in ci
    assert ci.index(install) < ci.index(test)


def test_readme_names_the_transcribe_command_on_the_default_model():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```[a-z]*\n(.*?)```", readme, flags=re.S)
    assert blocks[1].strip() == "intref transcribe speech.wav"
