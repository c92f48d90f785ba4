"""``@record`` behaves as ``@dataclass`` does: equality, repr, hash, fields; only cheaper to define."""

from __future__ import annotations

import ast
import dataclasses
import pickle
from pathlib import Path

import pytest
from netra_doctor.core.records import record

ROOT = Path(__file__).resolve().parent.parent


def _pair(frozen: bool):
    """The same class body under @dataclass and under @record."""
    made = []
    for deco in (dataclasses.dataclass(frozen=frozen), record(frozen=frozen)):

        @deco
        class Row:
            name: str
            size: int = 0
            notes: list = dataclasses.field(default_factory=list, compare=False, repr=False)
            ratio: float = 0.0
            tag: str = dataclasses.field(default="", hash=False)

        made.append(Row)
    return made


@pytest.mark.parametrize("frozen", [False, True])
def test_equality_repr_and_hash_are_the_dataclass_ones(frozen):
    gen, rec = _pair(frozen)
    cases = [(("a",), ("a",)), (("a", 1, [1]), ("a", 1, [2])), (("a", 1), ("a", 2)), (("a", 1, [], 0.5, "x"),
                                                                                       ("a", 1, [], 0.5, "y"))]
    for left, right in cases:
        assert (gen(*left) == gen(*right)) == (rec(*left) == rec(*right))
        assert repr(gen(*left)) == repr(rec(*left))
        if frozen:
            assert (hash(gen(*left)) == hash(gen(*right))) == (hash(rec(*left)) == hash(rec(*right)))
    nan = float("nan")
    assert (gen("a", 1, [], nan) == gen("a", 1, [], nan)) == (rec("a", 1, [], nan) == rec("a", 1, [], nan))
    assert rec("a").__eq__("a") is NotImplemented  # another type is never equal
    assert (rec.__hash__ is None) == (gen.__hash__ is None) == (not frozen)
    assert [f.name for f in dataclasses.fields(rec)] == [f.name for f in dataclasses.fields(gen)]
    assert dataclasses.asdict(rec("a", 2)) == dataclasses.asdict(gen("a", 2))
    assert dataclasses.replace(rec("a"), size=3) == rec("a", 3)


def test_frozen_stays_frozen_and_a_subclass_is_not_equal():
    gen, rec = _pair(True)
    made = rec("a", 1)
    for obj in (gen("a", 1), made):
        with pytest.raises(dataclasses.FrozenInstanceError):
            obj.size = 2
        with pytest.raises(dataclasses.FrozenInstanceError):
            del obj.name
        assert (obj.name, obj.size) == ("a", 1)
    changed = dataclasses.replace(made, size=5)
    assert (changed.size, made.size) == (5, 1) and hash(changed) == hash(rec("a", 5))

    @record
    class Base:
        x: int

    @record
    class Child(Base):
        y: int = 0

    assert Base(1) != Child(1)
    assert Child(1, 2) == Child(1, 2) and repr(Child(1, 2)).endswith(".Child(x=1, y=2)")  # qualname, as dataclasses


def test_methods_the_class_writes_are_kept():
    @record
    class Named:
        name: str

        def __eq__(self, other):
            return isinstance(other, Named) and other.name.lower() == self.name.lower()

        def __hash__(self):
            return hash(self.name.lower())

        def __repr__(self):
            return f"<{self.name}>"

    assert Named("A") == Named("a") and hash(Named("A")) == hash(Named("a")) and repr(Named("A")) == "<A>"


@record
class Node:
    children: list


def test_recursive_repr_and_pickle():
    node = Node([])
    node.children.append(node)
    assert repr(node) == "Node(children=[...])"
    assert pickle.loads(pickle.dumps(Node([1]))) == Node([1])


def test_no_module_compiles_its_own_dataclass_methods():
    """Every dataclass of the package is a @record: one bare @dataclass costs every start ~0.3 ms."""
    bare = []
    for path in [*(ROOT / "doctor").rglob("*.py"), *(ROOT / "checks").glob("*.py")]:
        if "data" in path.relative_to(ROOT).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                for deco in node.decorator_list:
                    target = deco.func if isinstance(deco, ast.Call) else deco
                    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
                    if name == "dataclass":
                        bare.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert not bare, bare


def test_init_is_dataclasses_own_whenever_it_is_first_called():
    gen, rec = _pair(False)
    stand_in = rec.__dict__["__init__"]
    for args, kwargs in ((("a",), {}), (("a", 2, [1]), {"ratio": 0.5}), ((), {"name": "b", "tag": "t"})):
        assert dataclasses.asdict(rec(*args, **kwargs)) == dataclasses.asdict(gen(*args, **kwargs))
    assert rec.__dict__["__init__"] is not stand_in  # compiled once, then in place
    first, second = rec("a"), rec("a")
    first.notes.append(1)
    assert second.notes == []  # a factory per object, not one shared list
    for bad in ((), ("a", 1, [], 0.0, "", "extra")):
        assert _error(rec, bad) == _error(gen, bad) is not None


def _error(cls, args):
    try:
        cls(*args)
    except TypeError as exc:
        return str(exc).split(".")[-1]  # the qualname of the method differs (locals), the message not
    return None
