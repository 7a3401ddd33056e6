"""The course's own small models, used in place of pretrained ones when the hub is unreachable.

Each stand-in has the same name, tokenizer and hook names as the TransformerLens model it
stands in for, and is trained on data chosen so that what the pages teach really appears in it.
What each one is lives in `micourse.registry`; `python -m micourse.standins.train NAME` retrains one.
"""
