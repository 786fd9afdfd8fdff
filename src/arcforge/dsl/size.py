"""Output-size prediction: which shape each test output will have, decided before (and used by) the search."""

from __future__ import annotations

from arcforge.task import Task

Shape = tuple[int, int]


def rule_sizes(task: Task) -> tuple[str, list[Shape]] | None:
    """The first simple rule that maps every train input's shape to its output's shape, applied to
    the test inputs: same shape, one constant shape, a fixed scale factor, or the transpose."""
    ins = [ex.input.shape for ex in task.train]
    outs = [ex.output.shape for ex in task.train]
    tests = [ex.input.shape for ex in task.test]
    if ins == outs:
        return "same", tests
    if len(set(outs)) == 1 and len(set(ins)) > 1:
        return "constant", [outs[0]] * len(tests)
    (hi, wi), (ho, wo) = ins[0], outs[0]
    for name, f in (("scale", lambda s, a=ho / hi, b=wo / wi: (s[0] * a, s[1] * b)),
                    ("transpose", lambda s: (s[1], s[0]))):
        if all(f(i) == o for i, o in zip(ins, outs, strict=False)):
            pred = [f(t) for t in tests]
            if all(float(a).is_integer() and float(b).is_integer() for a, b in pred):
                return name, [(int(a), int(b)) for a, b in pred]
    if len(set(outs)) == 1:
        return "constant", [outs[0]] * len(tests)
    return None


def predict_sizes(task: Task, shape_programs: list[tuple[str, list[Shape]]]) -> list[Shape] | None:
    """Test output shapes: a simple rule if one fits, else the shapes made by the simplest search
    program (`shape_programs`, best first) whose train images all have their outputs' shapes."""
    rule = rule_sizes(task)
    if rule is not None:
        return rule[1]
    for _, shapes in shape_programs:
        return shapes
    return None
