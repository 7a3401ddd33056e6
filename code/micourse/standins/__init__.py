"""The course's own small models, used in place of pretrained ones when the hub is unreachable.

Each stand-in has the same name, tokenizer and hook names as the TransformerLens model it
stands in for, and is trained (by `micourse.training`) on data chosen so that what the
pages teach really appears in it. `python -m micourse.standins.train NAME` retrains one.
"""

from micourse.standins.specs import STANDINS, StandInSpec

__all__ = ["STANDINS", "StandInSpec"]
