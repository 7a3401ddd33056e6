"""Reusable analyses for chapter 2 (mechanistic interpretability with TransformerLens).

Each module does one job; the pages import the reference versions from here once the learner
has written (and checked) their own, so a later cell never depends on a learner's function.

- `basics`: log-probs, accuracy, attention patterns recomputed from weights, per-head outputs.
- `detectors`: attention-pattern scores (current, previous, first token, induction) and
  turning a score table into head names.
- `tokens`: repeated random token sequences (the induction test input).
- `attribution`: direct logit attribution.
- `ablation`: zero- and mean-ablation hooks and their effect on loss.
- `circuits`: full OV / positional QK circuits, composition scores and their random baseline.
- `toy`: a tiny random model for checkers and tests.
"""
