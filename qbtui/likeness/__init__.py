"""Does the LoRA look like the friend? Scores per checkpoint and weight, and the choice of one.

Plain Python (no torch, no Textual): `scoring` turns what the face model found in the
evaluation samples into scores and a choice, `plan` says what to sample, `report` reads and
writes `eval.json` and prints the table, `record` writes the choice into the registry.
The sampling itself runs in a subprocess (`qbtui.trainer.evaluate`).
"""
