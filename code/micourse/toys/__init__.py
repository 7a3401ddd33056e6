"""Toy models the course trains itself (the "toy models" part): the same in both worlds, nothing downloaded.

- `superposition`: Elhage et al.'s (2022) toy model of superposition, many instances batched at once.
- `geometry`: where a toy model puts its features (angles, dimensionality, phases, neuron monosemanticity).
- `plots`: the plotly figures of those pages (sliders over instances).
- `computation`: computation in superposition, a toy model trained to output |x|.
"""
