"""The ingestion report (SPEC section 2): accepted, duplicates, rejections."""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str


@dataclass
class IngestReport:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def add(self, other: "IngestReport") -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected.extend(other.rejected)

    def as_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [{"line": r.line, "reason": r.reason} for r in self.rejected],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], line_offset: int = 0) -> "IngestReport":
        return cls(
            accepted=int(data["accepted"]),
            duplicates=int(data["duplicates"]),
            rejected=[
                Rejection(int(r["line"]) + line_offset, str(r["reason"]))
                for r in data["rejected"]
            ],
        )
