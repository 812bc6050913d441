"""The six blanks written the way the course's guide writes them (its "Your code" lines),
turned into the course's function signatures, and a helper that writes them into the
student notebooks.

The guide's formulations differ from `solutions/` in ways that are all correct inside
IQL's step: `.float()` for the indicator and `diff.pow(2)`; no `.detach()` on `q_target`
or on the advantage, because IQL computes both without gradient; `nn.MSELoss()` objects;
and the value network from the library's MLP builder, as the guide calls a provided
network initializer. Grading must give every one of them full marks.
"""
from __future__ import annotations

import json
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

GUIDE_ANSWERS = {
    "make_value_network": """\
from iql_lib.algos.nets import mlp  # the provided MLP builder: V takes the state only
return mlp(ob_dim, 1, hidden_size=hidden_size, n_layers=n_layers)""",
    "expectile_loss": """\
weight = torch.abs(expectile - (diff < 0).float())
return weight * diff.pow(2)""",
    "value_loss": """\
return expectile_loss(q_target - v, expectile).mean()""",
    "q_losses": """\
mse_loss = torch.nn.MSELoss()
with torch.no_grad():
    v_next = v_net(next_obs).squeeze(-1)
    target = reward + gamma * (1.0 - terminal) * v_next
loss = mse_loss(q1, target)
loss2 = mse_loss(q2, target)
return loss, loss2""",
    "estimate_advantage": """\
adv = q_sa - v_s
return adv""",
    "actor_loss": """\
exp_weights = torch.exp(adv / temperature).clamp(max=max_weight)
return -(exp_weights * log_prob).mean()""",
}

STUB = '    # YOUR CODE HERE\n    raise NotImplementedError("not written yet: replace these two lines with your code")'


def write_guide_answers(notebook: Path, out: Path, names=tuple(GUIDE_ANSWERS)) -> Path:
    """`notebook` (a student notebook) with the blanks `names` written as the guide writes them."""
    cells = json.loads(notebook.read_text())
    for cell in cells["cells"]:
        source = "".join(cell["source"])
        for name in names:
            if f"def {name}(" in source and STUB in source:
                body = "\n".join("    " + line for line in GUIDE_ANSWERS[name].splitlines())
                source = source.replace(STUB, body)
        cell["source"] = source
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(cells, indent=1, ensure_ascii=False))
    return out


def write_guide_notebooks(folder: Path) -> Path:
    """Chapters 4–7 of the student notebooks with all six blanks written as the guide writes them."""
    for path in sorted(NOTEBOOKS.glob("0[4-7]_*.ipynb")):
        write_guide_answers(path, folder / path.name)
    return folder
