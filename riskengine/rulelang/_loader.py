"""Loading a rules directory: YAML with positions, schema checks, compiled `when` expressions.

Positions come from the YAML node marks plus the offset of the token inside the `when` text,
recomputed on every load, so a second load in the same process reports the same places.
"""
from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from ._ast import Node
from ._errors import Problem, RuleLoadError, RuleSyntaxError
from ._fields import FIELDS, FINDING_CODES
from ._model import LANES, Example, Rule, RuleSet, Scope
from ._parser import ExprError, parse_expression, suggest

__all__ = ["load_rules", "compile_expression", "rule_files"]

RULE_KEYS = ("id", "title", "rationale", "instructions", "owner", "valid_from", "valid_to", "scope", "when",
             "then", "confidential", "examples", "message", "version")
TOP_KEYS = ("ruleset", "rules", "lists", "description")
DIRECTIONS = ("import", "export", "re-export", "transit")
SECTIONS = ("declaration", "item", "history", "model_score", "findings")
_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


def compile_expression(text: str, *, lists: dict[str, Any] | None = None) -> Node:
    """The typed tree of one expression; raises RuleSyntaxError pointing into `text` (line 1)."""
    try:
        return parse_expression(text, lists=lists)
    except ExprError as exc:
        line = text.count("\n", 0, exc.pos) + 1
        column = exc.pos - (text.rfind("\n", 0, exc.pos) + 1) + 1
        raise RuleSyntaxError(Problem("<expression>", line, column, exc.code, exc.message, exc.suggestion)) from None


def rule_files(directory: Path) -> list[Path]:
    """The files a rules directory is made of: *.yaml, then lists/*.yaml, each sorted by name."""
    directory = Path(directory)
    return sorted(directory.glob("*.yaml")) + sorted((directory / "lists").glob("*.yaml"))


class _File:
    """One YAML file being loaded; collects its problems."""

    def __init__(self, path: Path, name: str, problems: list[Problem]) -> None:
        self.path, self.name, self.problems = path, name, problems
        self.source = path.read_text(encoding="utf-8")
        self.loader = yaml.SafeLoader(self.source)

    def problem(self, node: yaml.Node | None, code: str, message: str, suggestion: str | None = None,
                *, at: tuple[int, int] | None = None) -> None:
        line, column = at or ((node.start_mark.line + 1, node.start_mark.column + 1) if node else (1, 1))
        self.problems.append(Problem(self.name, line, column, code, message, suggestion))

    def root(self) -> yaml.Node | None:
        try:
            return self.loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            self.problem(None, "yaml_syntax", f"YAML: {exc.problem or exc.context}",
                         at=(mark.line + 1, mark.column + 1) if mark else None)
            return None
        finally:
            self.loader.dispose()

    def value(self, node: yaml.Node) -> Any:
        return self.loader.construct_object(node, deep=True)

    def mapping(self, node: yaml.Node, what: str, allowed: tuple[str, ...] | None) -> dict[str, tuple]:
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, "bad_value", f"{what} must be a mapping")
            return {}
        items = {}
        for key, value in node.value:
            name = str(key.value)
            if allowed is not None and name not in allowed:
                self.problem(key, "unknown_key", f"unknown key '{name}' in {what}", suggest(name, allowed))
                continue
            items[name] = (key, value)
        return items

    def scalar_text(self, node: yaml.Node) -> str | None:
        if not isinstance(node, yaml.ScalarNode):
            self.problem(node, "bad_value", "expected a single value")
            return None
        return None if node.tag == "tag:yaml.org,2002:null" else str(node.value)

    def list_items(self, node: yaml.Node, what: str) -> list[Any]:
        """Scalars of a YAML list, numbers as float and everything else as written (NO stays 'NO')."""
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, "bad_value", f"{what} must be a list")
            return []
        items = []
        for item in node.value:
            if item.tag in _NUMBER_TAGS:
                items.append(float(self.value(item)))
            elif (text := self.scalar_text(item)) is not None:
                items.append(text)
        return items

    def position(self, node: yaml.ScalarNode, text: str, offset: int) -> tuple[int, int]:
        """File line and column of `offset` inside the scalar `text` that `node` produced."""
        start, end, src = node.start_mark.index, node.end_mark.index, self.source
        p = start
        if node.style in ("|", ">"):
            p = src.index("\n", start) + 1
        elif node.style in ('"', "'"):
            p = start + 1
        target = None
        for i, ch in enumerate(text):
            if ch.isspace():
                continue
            while p < end and src[p] != ch:
                p += 1
            if i >= offset:
                target = p
                break
            p += 1
        if target is None:
            target = min(p, end)
        return src.count("\n", 0, target) + 1, target - (src.rfind("\n", 0, target) + 1) + 1


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def load_rules(directory: Path, *, today: date | None = None, in_force: bool = False) -> RuleSet:
    """Every rule and list under `directory`; raises RuleLoadError listing all problems.

    `in_force`: the rules are to decide consignments (the engine, batch, `rules check`), so a
    missing directory, an empty file or a pack without a single rule is an error: each would
    otherwise release what the rules target, silently (a mistyped `rules.dir`, a file truncated by
    a save). Backtests and replays of stored rulesets load what they are given.
    """
    directory = Path(directory)
    if in_force and not directory.is_dir():
        raise RuleLoadError([Problem(str(directory), 0, 0, "no_rules", "the rules directory does not exist (rules.dir)")])
    problems: list[Problem] = []
    files = [_File(p, p.relative_to(directory).as_posix(), problems) for p in rule_files(directory)]
    lists: dict[str, tuple] = {}
    pending: list[tuple[_File, str | None, yaml.Node]] = []
    for f in files:
        before = len(problems)
        root = f.root()
        if root is None:
            if in_force and len(problems) == before:  # nothing but blanks and comments
                f.problem(None, "empty_file", "the file is empty (no rules, no lists): delete it, or save it whole")
            continue
        in_lists_dir = f.name.startswith("lists/")
        keys = f.mapping(root, "the file", None)
        if in_lists_dir and "lists" not in keys:
            keys = {"lists": (None, root)}
        for name, (key, value) in keys.items():
            if name not in TOP_KEYS:
                f.problem(key, "unknown_key", f"unknown key '{name}' at the top of the file", suggest(name, TOP_KEYS))
        if "lists" in keys:
            for name, (key, value) in f.mapping(keys["lists"][1], "lists", None).items():
                if name in lists:
                    f.problem(key, "duplicate_list", f"list '{name}' is defined twice")
                lists[name] = tuple(f.list_items(value, f"list '{name}'"))
        if "rules" in keys:
            ruleset_name = f.value(keys["ruleset"][1]) if "ruleset" in keys else None
            rules_node = keys["rules"][1]
            if not isinstance(rules_node, yaml.SequenceNode):
                f.problem(rules_node, "bad_value", "rules must be a list")
                continue
            pending.extend((f, ruleset_name, node) for node in rules_node.value)
    rules: list[Rule] = []
    seen: dict[str, Rule] = {}
    for f, ruleset_name, node in pending:
        rule = _rule(f, node, lists, ruleset_name)
        if rule is None:
            continue
        if rule.id in seen:
            f.problem(node, "duplicate_id", f"rule id '{rule.id}' is already used in {seen[rule.id].file}")
            continue
        seen[rule.id] = rule
        rules.append(rule)
    if in_force and not rules and not problems:
        problems.append(Problem(str(directory), 0, 0, "no_rules",
                                "no rules in the rules directory: decisions would rest on permits and the model alone"))
    if problems:
        raise RuleLoadError(problems)
    content = _digest(*(part for f in files for part in (f.name, f.source)))
    today = today or date.today()
    return RuleSet(version=f"{today:%Y.%m.%d}-{content[:6]}", rules=rules, lists=lists,
                   files=[f.name for f in files], content_hash=content)


def _rule(f: _File, node: yaml.Node, lists: dict[str, tuple], ruleset_name: str | None) -> Rule | None:
    before = len(f.problems)
    items = f.mapping(node, "a rule", RULE_KEYS)
    for required in ("id", "title", "rationale", "when", "then"):
        if required not in items:
            f.problem(node, "missing_key", f"rule {_id_of(f, items)}has no '{required}'")
    text = {k: f.scalar_text(items[k][1]) for k in ("id", "title", "rationale", "instructions", "owner",
                                                    "when", "message", "version") if k in items}
    for k in ("id", "title", "rationale", "when"):
        if k in items and not (text.get(k) or "").strip():
            f.problem(items[k][1], "bad_value", f"'{k}' must not be empty")
    condition = None
    if text.get("when"):
        when_node = items["when"][1]
        try:
            condition = parse_expression(text["when"], lists=lists)
        except ExprError as exc:
            f.problem(None, exc.code, exc.message, exc.suggestion, at=f.position(when_node, text["when"], exc.pos))
    lane, score = _then(f, items.get("then"))
    scope = _scope(f, items.get("scope"))
    valid = {k: _date(f, items[k][1]) if k in items else None for k in ("valid_from", "valid_to")}
    if valid["valid_from"] and valid["valid_to"] and valid["valid_from"] > valid["valid_to"]:
        f.problem(items["valid_to"][1], "bad_value", "valid_to is before valid_from")
    confidential = f.value(items["confidential"][1]) if "confidential" in items else False
    if not isinstance(confidential, bool):
        f.problem(items["confidential"][1], "bad_value", "confidential must be true or false")
    if text.get("message"):
        _check_message(f, items["message"][1], text["message"])
    examples = _examples(f, items["examples"][1]) if "examples" in items else []
    if len(f.problems) > before or condition is None:
        return None
    data = {k: f.value(v) for k, (_, v) in items.items()}
    used = sorted({n.name for n in _list_refs(condition)})
    version = text.get("version") or _digest(json.dumps(data, sort_keys=True, default=str),
                                             json.dumps({n: lists[n] for n in used}))[:8]
    return Rule(id=text["id"], title=text["title"], rationale=text["rationale"], when=text["when"],
                condition=condition, version=version, file=f.name, line=node.start_mark.line + 1,
                instructions=text.get("instructions"), owner=text.get("owner"), scope=scope, lane=lane,
                score=score, confidential=confidential, message=text.get("message"), ruleset=ruleset_name,
                examples=examples, **valid)


def _id_of(f: _File, items: dict) -> str:
    return f"'{items['id'][1].value}' " if "id" in items and isinstance(items["id"][1], yaml.ScalarNode) else ""


def _list_refs(node: Node):
    from ._ast import ListConst, walk
    return [n for n in walk(node) if isinstance(n, ListConst) and n.name]


def _then(f: _File, entry: tuple | None) -> tuple[str | None, float | None]:
    if entry is None:
        return None, None
    items = f.mapping(entry[1], "then", ("lane", "score"))
    lane = score = None
    if "lane" in items:
        lane = f.scalar_text(items["lane"][1])
        if lane not in LANES:
            f.problem(items["lane"][1], "bad_value", f"lane must be one of {', '.join(LANES)}",
                      suggest(str(lane), LANES))
    if "score" in items:
        score = f.value(items["score"][1])
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 100:
            f.problem(items["score"][1], "bad_value", "score must be a number from 0 to 100")
            score = None
        else:
            score = float(score)
    if not items:
        f.problem(entry[1], "bad_value", "then needs a lane or a score")
    return lane, score


def _scope(f: _File, entry: tuple | None) -> Scope:
    if entry is None:
        return Scope()
    items = f.mapping(entry[1], "scope", ("direction", "offices"))
    values = {}
    for key in ("direction", "offices"):
        node = items.get(key, (None, None))[1]
        if node is None:
            values[key] = ()
        elif isinstance(node, yaml.ScalarNode):
            values[key] = tuple(v for v in [f.scalar_text(node)] if v)
        else:
            values[key] = tuple(str(v) for v in f.list_items(node, f"scope {key}"))
    for direction in values["direction"]:
        if direction not in DIRECTIONS:
            f.problem(items["direction"][1], "bad_value", f"unknown direction '{direction}'",
                      suggest(direction, DIRECTIONS))
    return Scope(values["direction"], values["offices"])


def _date(f: _File, node: yaml.Node) -> date | None:
    value = f.value(node)
    if value is None or isinstance(value, date):
        return value
    f.problem(node, "bad_value", "expected a date like 2026-01-31")
    return None


def _check_message(f: _File, node: yaml.Node, message: str) -> None:
    from ._model import _PLACEHOLDER
    for m in _PLACEHOLDER.finditer(message):
        if m.group(1) not in FIELDS:
            f.problem(None, "unknown_field", f"unknown field '{m.group(1)}' in message",
                      suggest(m.group(1), list(FIELDS)), at=f.position(node, message, m.start(1)))


def _examples(f: _File, node: yaml.Node) -> list[Example]:
    if not isinstance(node, yaml.SequenceNode):
        f.problem(node, "bad_value", "examples must be a list")
        return []
    examples = []
    for entry in node.value:
        items = f.mapping(entry, "an example", ("hit", "miss"))
        if len(items) != 1:
            if items:
                f.problem(entry, "bad_value", "an example is either hit or miss")
            continue
        kind, (key, body) = next(iter(items.items()))
        examples.append(Example(kind, _example_facts(f, body), entry.start_mark.line + 1))
    return examples


def _example_facts(f: _File, body: yaml.Node) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for section, (key, value) in f.mapping(body, "an example", SECTIONS).items():
        if section in ("model_score", "findings"):
            facts[section] = _example_value(f, section, value)
            for code in facts[section] if section == "findings" else ():
                if code not in FINDING_CODES:
                    f.problem(value, "unknown_finding", f"unknown finding code '{code}'", suggest(code, FINDING_CODES))
            continue
        names = [n.split(".", 1)[1] for n in FIELDS if n.startswith(section + ".")]
        for name, (fkey, fvalue) in f.mapping(value, section, None).items():
            if name not in names:
                f.problem(fkey, "unknown_field", f"unknown field '{section}.{name}'",
                          (s := suggest(name, names)) and f"{section}.{s}")
                continue
            facts[f"{section}.{name}"] = _example_value(f, f"{section}.{name}", fvalue)
    return facts


def _example_value(f: _File, name: str, node: yaml.Node) -> Any:
    kind = FIELDS[name].type
    if kind == "list":
        return [str(v) for v in f.list_items(node, name)] if not isinstance(node, yaml.ScalarNode) \
            else [v for v in [f.scalar_text(node)] if v]
    if kind == "str":
        return f.scalar_text(node)
    value = f.value(node)
    fits = isinstance(value, bool) if kind == "bool" else isinstance(value, (int, float)) and not isinstance(value, bool)
    if value is not None and not fits:
        f.problem(node, "bad_value", f"{name} takes a {kind}")
    return value
