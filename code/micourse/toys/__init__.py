"""Toy models the course trains itself (the "toy models" part): the same in both worlds, nothing downloaded.

- `superposition`: Elhage et al.'s (2022) toy model of superposition, many instances batched at once.
"""
