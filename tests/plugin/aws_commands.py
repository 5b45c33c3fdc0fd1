"""Every `aws ...` command the skill's files show names an operation and options that exist: the service and
operation in botocore's models, each `--option` the kebab-case of an input member (or a global or paginated
option of the AWS CLI). Reads shell blocks and inline code of skills/provisioning-bedrock/*.md.

Usage: .venv/bin/python tests/plugin/aws_commands.py
"""

import pathlib
import re
import shlex
import sys

import botocore
import botocore.session
from botocore import xform_name

SKILL = pathlib.Path(__file__).resolve().parents[2] / "skills" / "provisioning-bedrock"
GLOBAL = {"--region", "--query", "--output", "--profile", "--endpoint-url", "--no-paginate", "--debug",
          "--cli-input-json", "--cli-input-yaml", "--generate-cli-skeleton", "--no-cli-pager", "--color"}
PAGINATION = {"--starting-token", "--page-size", "--max-items"}
# AWS CLI commands that are not API operations.
CUSTOM = {("configure", "list"), ("sso", "login")}


def commands(markdown):
    """The `aws` command lines of fenced shell blocks (continuations joined) and of inline code spans."""
    lines, in_shell, fenced = [], False, False
    prose = []
    for line in markdown.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("```"):
            fenced = not fenced
            in_shell = fenced and stripped[3:].strip() in ("sh", "bash", "shell")
            continue
        if in_shell:
            lines.append(line)
        elif not fenced:
            prose.append(line)
    joined = "\n".join(lines).replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        for part in re.split(r"\$\(|;|&&|\|", line):
            part = part.strip()
            if part.startswith("aws "):
                found.append(part)
    for span in re.findall(r"`([^`]+)`", "\n".join(prose)):
        if span.startswith("aws ") and len(span.split()) >= 3:  # `aws bedrock-runtime` alone names a service
            found.append(span)
    return found


def main():
    session = botocore.session.get_session()
    problems, checked = [], 0
    for path in sorted(SKILL.glob("*.md")):
        for command in commands(path.read_text(encoding="utf-8")):
            try:
                words = shlex.split(command.split(" #")[0], comments=False)
            except ValueError:
                words = command.split()
            words = [w for w in words if w]
            if len(words) < 3:
                problems.append(f"{path.name}: `{command}`: no operation")
                continue
            service, operation = words[1], words[2]
            if (service, operation) in CUSTOM:
                continue
            try:
                model = session.get_service_model(service)
            except botocore.exceptions.UnknownServiceError:
                problems.append(f"{path.name}: `{command}`: no service {service}")
                continue
            names = {xform_name(name, "-"): name for name in model.operation_names}
            if operation not in names:
                problems.append(f"{path.name}: `{command}`: {service} has no operation {operation}")
                continue
            shape = model.operation_model(names[operation]).input_shape
            members = set()
            for name, member in (shape.members.items() if shape else []):
                option = "--" + xform_name(name, "-")
                members.add(option)
                if member.type_name == "boolean":
                    members.add("--no-" + option[2:])
            for word in words[3:]:
                option = word.split("=")[0]
                if option.startswith("--") and option not in members | GLOBAL | PAGINATION:
                    problems.append(f"{path.name}: `{command}`: aws {service} {operation} has no option {option}")
            checked += 1
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"aws commands: {checked} checked against botocore {botocore.__version__}, {len(problems)} wrong")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
