"""What an import made of each variable of the dictionary, for the branching logic and calculations that name it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Known:
    """What became of a variable, for the conditions and calculations that name it."""

    form: str
    state: str  # "item", "score", "left_out"
    kind: str = ""
    position: int = 0
    codes: list[str] = field(default_factory=list)
    numeric_codes: bool = False
