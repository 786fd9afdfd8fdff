"""Rules fitted on the train pairs and applied to the test inputs, beside the program search, one
module per family (each rule registers itself with `dsl.fitting.fitted`; `common` holds what they
share). Each `fit_*` takes the train inputs, the train outputs and the test inputs and returns
(rank, rule name, test predictions) for every rule that reproduces every train output exactly and
applies to every test input, best first. Importing this package registers them all; the other
families live beside it in dsl/ (counts, moves, parts, rays, templates, library's slow transforms).
"""

from arcforge.dsl.rules import cells, crops, lattice, paths, ray_casts, recolour, stamp, summaries, swap  # noqa: F401
