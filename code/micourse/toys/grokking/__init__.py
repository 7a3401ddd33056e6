"""Grokking: a one-layer transformer trained on (a + b) mod p (Power et al. 2022; Nanda et al. 2023).

`data` builds the task, `model` declares the architecture and loads the trained weights,
`train` is the recipe that produced them, `fourier` holds the bases the pages analyse them in.
"""
