"""The balanced-bracket classifier: its data, its model, its training recipe and its scorecard.

Redwood Research's task, as taught in ARENA's set 1.5.1; the code here is the course's own.
"""
