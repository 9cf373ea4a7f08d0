"""Reading a step's GITHUB_OUTPUT file the way the runner does."""

from __future__ import annotations


def parse_outputs(text: str) -> dict[str, str]:
    """`name=value` lines and `name<<DELIMITER` … `DELIMITER` blocks, as the runner reads them."""
    outputs: dict[str, str] = {}
    lines = iter(text.split("\n"))
    for line in lines:
        if not line:
            continue
        heredoc = "<<" in line and ("=" not in line or line.index("<<") < line.index("="))
        if not heredoc:
            name, value = line.split("=", 1)
            outputs[name] = value
            continue
        name, delimiter = line.split("<<", 1)
        value_lines = []
        for body_line in lines:
            if body_line == delimiter:
                break
            value_lines.append(body_line)
        outputs[name] = "\n".join(value_lines)
    return outputs
