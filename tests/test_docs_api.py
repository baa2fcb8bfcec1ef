"""docs/api.md lists the PyTorch names we support: each one must exist where it says."""

import re
from pathlib import Path

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop import Tensor, nn, optim

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"
MODULE_METHODS = {"forward", "parameters", "named_parameters", "buffers", "named_buffers",
                  "children", "named_children", "modules", "named_modules", "train", "eval",
                  "zero_grad", "state_dict", "load_state_dict", "to", "float", "double",
                  "apply", "requires_grad_", "register_buffer", "add_module"}
NOT_NAMES = {"Tensor", "len", "float", "int", "bool", "abs", "np.asarray",
             "torch.from_dlpack"}  # Python built-ins and other libraries' calls


def table_names(section):
    """The identifiers in backticks of one section's table rows (after the first column)."""
    text = DOC.read_text().split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    names = []
    for row in text.splitlines():
        if row.startswith("|") and not row.startswith("|---") and not row.startswith("| kind"):
            cell = row.split("|", 2)[2]
            while re.search(r"\([^()]*\)", cell):  # argument lists: not names
                cell = re.sub(r"\([^()]*\)", "", cell)
            for span in re.findall(r"`([^`]+)`", cell):
                name = re.match(r"[A-Za-z_][\w.]*", span)
                if name and "=" not in span and not span.startswith(("f\"", "t[")):
                    names.append(name.group())
    return names


def resolve(name, where):
    obj = where
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def test_every_tensor_name_in_the_doc_exists():
    names = [n for n in table_names("Tensor") if n not in NOT_NAMES]
    assert len(names) > 60
    missing = [n for n in names if not hasattr(Tensor, n) and not hasattr(td, n.split(".")[-1])]
    assert not missing, missing


def test_every_function_module_and_optimizer_in_the_doc_exists():
    roots = {"td": td, "F": F, "nn": nn, "optim": optim}
    checked = 0
    for section in ("Functions and factories (`td.`)", "`tinygrad_drop.nn.functional` (`F`)",
                    "`tinygrad_drop.nn`", "`tinygrad_drop.optim`"):
        for name in table_names(section):
            root, _, rest = name.partition(".")
            if root in roots and rest:
                resolve(rest, roots[root])
                checked += 1
            elif name in MODULE_METHODS:
                assert callable(getattr(nn.Module, name)), name
                checked += 1
            else:  # the optimizers' and schedulers' methods and attributes
                assert hasattr(OPTIMIZER, name) or hasattr(SCHEDULER, name), name
                checked += 1
    assert checked > 90


OPTIMIZER = optim.SGD([Tensor([1.0], requires_grad=True)], lr=0.1)
SCHEDULER = optim.lr_scheduler.StepLR(OPTIMIZER, 2)


def test_the_training_and_data_names_exist():
    names = table_names("Training and data (not PyTorch's names)")
    assert len(names) >= 9
    for name in names:
        resolve(name.removeprefix("td."), td)
