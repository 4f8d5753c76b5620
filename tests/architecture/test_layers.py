"""The architecture holds: layer contracts, lint, no float in core, one place reads the wall clock,
and no parameter defaults to "now"."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KASSA = ROOT / "kassa"
BIN = Path(sys.executable).parent

WALL_CLOCK = {
    "datetime.datetime.now",
    "datetime.datetime.utcnow",
    "datetime.datetime.today",
    "datetime.date.today",
    "time.time",
    "time.time_ns",
}
NOW_NAMES = {"now", "at", "as_of", "today", "when", "instant"}


def _sources(under: Path) -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(under.rglob("*.py")):
        yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(), filename=str(path))


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_import_contracts_are_kept() -> None:
    result = _run(str(BIN / "lint-imports"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 5 kept, 0 broken." in result.stdout


def test_ruff_passes_with_the_banned_wall_clock_reads() -> None:
    result = _run(str(BIN / "ruff"), "check", "kassa", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_bans_wall_clock_reads_outside_the_clock_adapter() -> None:
    """The lint rule above is live: the same config flags a wall-clock read in kassa/ but not in the
    clock adapter (the code goes in on stdin, so no file is written into the shared tree)."""
    source = "from datetime import UTC, datetime\n\nSTAMP = datetime.now(UTC)\n"
    results = {
        path: subprocess.run(
            [str(BIN / "ruff"), "check", "--select", "TID251", "--stdin-filename", path, "-"],
            cwd=ROOT,
            input=source,
            capture_output=True,
            text=True,
            timeout=60,
        )
        for path in ("kassa/services/probe.py", "kassa/adapters/clock.py")
    }
    flagged = results["kassa/services/probe.py"]
    assert flagged.returncode == 1
    assert "TID251 `datetime.datetime.now` is banned" in flagged.stdout
    assert results["kassa/adapters/clock.py"].returncode == 0


# --- no float in core ----------------------------------------------------------------------------------


def _float_uses(module: ast.Module) -> list[tuple[str, str]]:
    """(enclosing function, how) for every `float` name and float literal in a module."""
    found: list[tuple[str, str]] = []

    def visit(node: ast.AST, function: str, parent: ast.AST | None) -> None:
        if isinstance(node, ast.Name) and node.id == "float":
            is_isinstance = (
                isinstance(parent, ast.Call)
                and isinstance(parent.func, ast.Name)
                and parent.func.id == "isinstance"
                and node in parent.args[1:]
            )
            found.append((function, "isinstance" if is_isinstance else "name"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, float):
            found.append((function, f"literal {node.value!r}"))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and re.search(r"\bfloat\b", node.value)
        ):
            # a string annotation ("float") would hide from the Name check
            if isinstance(parent, ast.arg | ast.AnnAssign | ast.FunctionDef):
                found.append((function, "string annotation"))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        for child in ast.iter_child_nodes(node):
            visit(child, function, node)

    visit(module, "<module>", None)
    return found


def test_no_float_in_core_but_the_one_refusal_in_money() -> None:
    uses = {
        (path, function, how)
        for path, module in _sources(KASSA / "core")
        for function, how in _float_uses(module)
    }
    assert uses == {("kassa/core/money.py", "_refuse_float", "isinstance")}


def test_the_float_scan_sees_names_annotations_calls_and_literals() -> None:
    module = ast.parse(
        "def f(x: float) -> float:\n    return float(x) * 0.5\ndef g(y):\n    return isinstance(y, float)\n"
    )
    assert sorted(_float_uses(module)) == [
        ("f", "literal 0.5"),
        ("f", "name"),
        ("f", "name"),
        ("f", "name"),
        ("g", "isinstance"),
    ]


# --- the wall clock ------------------------------------------------------------------------------------


def _wall_clock_reads(module: ast.Module) -> list[str]:
    """Dotted names of wall-clock reads (called or passed as a function), imports and aliases resolved."""
    aliases: dict[str, str] = {}
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def dotted(node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = dotted(node.value)
            return None if base is None else f"{base}.{node.attr}"
        return None

    reads = []
    for node in ast.walk(module):
        if isinstance(node, ast.Name | ast.Attribute):
            name = dotted(node)
            if name in WALL_CLOCK:
                reads.append(name)
    return reads


def test_only_the_clock_adapter_reads_the_wall_clock() -> None:
    reads = [(path, name) for path, module in _sources(KASSA) for name in _wall_clock_reads(module)]
    assert reads == [("kassa/adapters/clock.py", "datetime.datetime.now")]


def test_the_wall_clock_scan_resolves_aliases() -> None:
    module = ast.parse(
        "import datetime as dt\n"
        "import time\n"
        "from datetime import date, datetime as D\n"
        "from time import time_ns\n"
        "a = dt.datetime.now()\n"
        "b = D.utcnow()\n"
        "c = date.today()\n"
        "d = time.time()\n"
        "e = time_ns()\n"
        "f = field(default_factory=D.now)\n"
        "g = clock.now()\n"
        "h = time.monotonic()\n"
    )
    assert sorted(_wall_clock_reads(module)) == sorted(
        [
            "datetime.datetime.now",
            "datetime.datetime.utcnow",
            "datetime.date.today",
            "time.time",
            "time.time_ns",
            "datetime.datetime.now",
        ]
    )


# --- no parameter defaults to "now" --------------------------------------------------------------------


def _now_defaults(module: ast.Module) -> list[str]:
    """Parameters named like an instant that have any default, and defaults that read a clock."""
    found = []
    for node in ast.walk(module):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        args = node.args
        positional = args.posonlyargs + args.args
        pairs = list(zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True))
        pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None]
        name = getattr(node, "name", "<lambda>")
        for arg, default in pairs:
            reads_clock = any(
                isinstance(n, ast.Attribute | ast.Name)
                and (getattr(n, "attr", None) or getattr(n, "id", None)) in {"now", "utcnow", "today", "time"}
                for n in ast.walk(default)
            )
            if arg.arg in NOW_NAMES or reads_clock:
                found.append(f"{name}({arg.arg}={ast.unparse(default)})")
    return found


def test_no_parameter_defaults_to_now() -> None:
    found = [(path, d) for path, module in _sources(KASSA) for d in _now_defaults(module)]
    assert found == []


def test_no_now_style_default_by_text_either() -> None:
    pattern = re.compile(r"\b(now|at|as_of|today)\s*:\s*[\w.\[\]| ]*(datetime|date)\b[\w.\[\]| ]*=")
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted(KASSA.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []
    assert pattern.search("def f(now: datetime | None = None) -> None:")
    assert pattern.search("def f(*, at: datetime = EPOCH):")


def test_the_default_scan_sees_now_defaults() -> None:
    module = ast.parse(
        "def a(now=None): ...\n"
        "def b(x, *, at: datetime | None = None): ...\n"
        "def c(when=clock.now()): ...\n"
        "def d(stamp=datetime.now): ...\n"
        "def e(at_gte: datetime | None = None, limit: int = 20): ...\n"
    )
    assert _now_defaults(module) == [
        "a(now=None)",
        "b(at=None)",
        "c(when=clock.now())",
        "d(stamp=datetime.now)",
    ]
