"""What every model loaded through the course records about itself (`model.micourse_info`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelInfo:
    """Recorded on every loaded model as `model.micourse_info`, so a page can say which model ran."""

    name: str  # the registry name, e.g. "gpt2-small"
    standin: bool  # True: the course's stand-in weights (offline, or served by the rehearsal hub)
    description: str
    processed: bool = True  # weights processed as `from_pretrained` does (fold_ln, centring)
    rehearsal: bool = False  # loaded through the course's local stand-in for the hub

    def __str__(self) -> str:
        return self.description
