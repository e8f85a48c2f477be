"""What a scenario function returns: the files it writes and its ground truth beyond the lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from timeline.scenarios.writers import Row


@dataclass
class Output:
    """Files of one scenario: path -> rows; plus how each file is wrapped and the ground truth.

    ``skews`` are keyed by the file (path below ``logs/``) whose clock is off; ``host_skews`` by
    the host named in the records (several hosts may share a file). ``truth`` holds further
    ground-truth keys written as they are to ``ground_truth.json`` (outcomes, planted rejects,
    the realistic mess and where it is).
    """

    files: dict[str, list[Row]] = field(default_factory=dict)
    envelope: dict[str, str] = field(default_factory=dict)  # path -> docker_json | cri
    skews: dict[str, float] = field(default_factory=dict)
    cause: dict[str, Any] = field(default_factory=dict)
    host_skews: dict[str, float] = field(default_factory=dict)
    truth: dict[str, Any] = field(default_factory=dict)
