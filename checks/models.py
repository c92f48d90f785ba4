"""Models against migrations: every table and column the SQLAlchemy models declare is created by a
revision up to head. The seed's real cause, visible in the checkout before it ships: models for three
tables were added with no revision, so `alembic upgrade head` was a no-op and start-up failed."""

from __future__ import annotations

from netra_doctor.core.checking import Finding, check, fail, not_applicable, not_judged, ok, skip, warn
from netra_doctor.core.facts import Facts, MigrationFacts, ModelFacts, ModelTable
from netra_doctor.migrations.expected import ancestors, table_ops, tables_at_head
from netra_doctor.migrations.plan import made_outside, op_line, plain, standing_columns, unreadable, where
from netra_doctor.migrations.unjudged import unjudged


def _models(facts: Facts) -> ModelFacts | Finding:
    models = facts.repo.models if facts.repo else None
    if models is None:
        return skip("the checkout's models were not read (see the repo source)")
    if not models.tables and models.problems:  # models there, none of their tables read: not "no models"
        where = models.where or "nothing read"
        return not_judged(f"the models are not judged: no table of theirs could be read ({where}); "
                          f"{models.problems[0]}", blocked=True,
                          evidence=[f"note on the models: {p}" for p in models.problems]
                          + [f"migrations: {u}" for u in (facts.migrations.unknown if facts.migrations else [])])
    if not models.tables:
        return not_applicable(f"no SQLAlchemy models found ({models.where or 'nothing read'})")
    return models


def _unknown(m: MigrationFacts, models: ModelFacts, what: str) -> list[Finding]:
    """The revisions alembic runs are not known (``m.unknown``): judging the models against the ones read
    would report every table as missing, with a fix that recreates them. Say what is unknown instead."""
    if not m.unknown:
        return []
    return [not_judged(
        f"{what}the {len(models.tables)} model table(s) are not judged: the revisions alembic runs are not "
        f"known ({len(m.revisions)} read): {m.unknown[0]}", blocked=True,
        evidence=[*(f"migrations: {u}" for u in m.unknown), _reading(models), *_notes(m, models)])]


def _reading(models: ModelFacts) -> str:
    how = "read from source with ast" if models.reading == "ast" else f"from the real MetaData ({models.reading})"
    return f"models {how}: {models.where}; {len(models.tables)} table(s) in {len(models.files)} file(s)"


def _at(t: ModelTable) -> str:
    return f"{t.path}:{t.line}" if t.line else (t.path or "(imported)")


def _head(m: MigrationFacts) -> str:
    return ", ".join(m.heads) or "none"


def _message(names: list[str], noun: str, tables: int = 0) -> str:
    """What one `alembic revision -m` says for many: up to three names, else a count (the list is the
    evidence): one short command, never one per table with hundreds of characters each."""
    names = sorted(dict.fromkeys(names)) if not tables else list(dict.fromkeys(names))
    if len(names) <= 3:
        return ", ".join(names)
    return f"{len(names)} {noun}" + (f" to {tables} tables" if tables > 1 else "")


def _few(names: list[str]) -> str:
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _not_judged(tables: list[ModelTable], what: str) -> list[Finding]:
    """``what`` of these tables would be reported, but their packages carry Alembic revisions the
    project's alembic.ini does not run (a plug-in's migrations/, run by the app's plug-in loader): what
    those do is unknown, so the finding says so and claims nothing."""
    if not tables:
        return []
    folders = sorted({t.own_migrations for t in tables})
    return [not_judged(
        f"{what} of {len(tables)} model table(s) are not judged: their packages carry Alembic revisions of "
        f"their own ({_few(folders)}) that this project's alembic.ini does not run",
        evidence=[f"not judged: {t.name} of model {t.model} ({_at(t)}), revisions in {t.own_migrations}"
                  for t in tables])]


def _notes(m: MigrationFacts, models: ModelFacts, full: bool = True) -> list[str]:
    """What weakens the verdict: in full on a check's first finding (the revision check, which also shows
    it, does not run under --repo-only), the first three and a pointer to that one on the others."""
    notes = [f"migrations warning: {w}" for w in m.warnings if w not in m.unknown]
    doubt = unreadable(m, m.heads)
    notes += [f"not fully read: {u}" for u in (doubt if full else doubt[:3])]
    if not full and len(doubt) > 3:
        notes.append(f"not fully read: {len(doubt) - 3} more revision(s), listed under this check's first finding")
    return notes + [f"note on the models: {p}" for p in models.problems[:3]]


@check(
    "models",
    "Every table the models declare is created by a revision up to head",
    needs=("repo", "migrations"),
    causes=("model-without-migration", "model-table-dropped-by-migration"),
)
def models(facts: Facts) -> list[Finding]:
    """Good: each table the checkout's SQLAlchemy models declare (read with ast, never imported) is
    created by one of the revisions up to head, so `alembic upgrade head` gives the app its tables."""
    found = _models(facts)
    if isinstance(found, Finding):
        return [found]
    m: MigrationFacts = facts.migrations  # type: ignore[assignment]
    if m.unknown:
        return _unknown(m, found, "")
    standing = {plain(n) for n in tables_at_head(m)}
    upto = ancestors(m, m.heads)
    created_ever = {plain(n): r for r in m.revisions if r.revision in upto for n in r.creates}
    # a model without a schema may get one from its MetaData(schema=...), which ast does not follow:
    # the same table created in a schema counts
    in_schema = {n.split(".", 1)[1] for n in standing if "." in n}
    missing = [t for t in found.tables if plain(t.name) not in standing
               and ("." in t.name or t.name not in in_schema)]
    theirs = [t for t in missing if t.own_migrations]
    out = _not_judged(theirs, "the tables")
    vanished = unjudged(found.problems)
    if vanished:  # a model found but not named or not read: its table is unknown, never taken as none
        out.append(not_judged(f"{len(vanished)} model(s) or model module(s) found are not judged: {vanished[0]}",
                              evidence=[f"not judged: {v}" for v in vanished]))
    missing = [t for t in missing if not t.own_migrations]
    doubt = unreadable(m, m.heads)
    outside = made_outside(m, m.heads)
    never = [t for t in missing if plain(t.name) not in created_ever] if outside else []
    if never:  # the baseline may hold them: say so, claim nothing
        missing = [t for t in missing if t not in never]
        out.append(not_judged(
            f"{len(never)} model table(s) that no revision creates are not judged: the revisions alter "
            f"{_few(outside)}, which none of them creates, so the schema's baseline was made outside Alembic "
            "(create_all, then stamp) and may hold them",
            evidence=[f"not judged: {', '.join(sorted(t.name for t in never))}", _reading(found)]))
    judged = len(found.tables) - len(theirs) - len(never)
    if not missing and out and judged > 0:  # the others were judged: said, ruling nothing out
        out.append(ok(f"the other {judged} model table(s) are created by the {len(upto)} revision(s) up to head "
                      f"{_head(m)}", evidence=[_reading(found)]))
    if not missing:  # a table not judged above leaves the cause open: no pass to rule it out
        return out or [ok(f"all {len(found.tables)} table(s) the models declare are created by the {len(upto)} "
                          f"revision(s) up to head {_head(m)}", "model-without-migration",
                          evidence=[_reading(found), *_notes(m, found)])]
    gone = {t.name: _gone_by(facts, m, upto, t) for t in missing if plain(t.name) in created_ever}
    out += [_dropped(t, gone[t.name], m, found, doubt) for t in missing if gone.get(t.name)]
    missing = [t for t in missing if not gone.get(t.name)]
    names = _message([t.name for t in missing], "tables")
    for t in missing:
        evidence = [f"model {t.model} ({_at(t)}) declares table {t.name}",
                    f"none of the {len(upto)} revision(s) up to head {_head(m)} creates {t.name}",
                    _reading(found), *_notes(m, found, full=t is missing[0])]
        verdict = fail if not doubt else warn  # an unreadable revision might create it
        out.append(verdict(
            f"table {t.name} of model {t.model} ({_at(t)}) is created by no Alembic revision",
            "model-without-migration", obj=t.name, evidence=evidence, location=_at(t),
            confidence=0.9 if not doubt else 0.5, fix_vars={"tables": names},
        ))
    return out


def _gone_by(facts: Facts, m: MigrationFacts, chain: set[str], t: ModelTable) -> tuple[str, str, str, str] | None:
    """(revision, "drop" | "rename", the new name, the revision's file:line) of the last operation up to
    head that takes the model's table away; None when none is known (the table is just never created)."""
    name, last = plain(t.name), None
    for rev in m.revisions:  # base first
        if rev.revision not in chain:
            continue
        for i, (kind, *names) in enumerate(table_ops(rev)):
            if not names or plain(names[0]) != name:
                continue
            if kind == "create":
                last = None
            elif kind in ("drop", "rename"):
                new = names[1] if kind == "rename" and len(names) == 2 else ""
                last = (rev.revision, kind, new, where(facts, rev, op_line(rev, i)))
    return last


def _dropped(t: ModelTable, gone: tuple[str, str, str, str], m: MigrationFacts, found: ModelFacts,
             doubt: list[str]) -> Finding:
    """The model's table is dropped or renamed by a revision: never "create it" (an empty table beside
    the renamed one, or a new one in place of the dropped data), but the model and that revision made
    to agree."""
    revision, kind, new, at = gone
    if kind == "rename":
        what = f"revision {revision} ({at}) renames {t.name} to {new}"
        change = (f"point model {t.model} ({_at(t)}) at the table's new name: __tablename__ = {new!r}; or, if the "
                  f"rename was not meant, remove it from revision {revision} ({at})")
    else:
        what = f"revision {revision} ({at}) drops {t.name}"
        change = (f"if {t.name} is still meant to exist, remove the drop from revision {revision} ({at}); if it is "
                  f"meant to go, remove model {t.model} ({_at(t)})")
    return (fail if not doubt else warn)(
        f"table {t.name} of model {t.model} ({_at(t)}) is gone at head: {what}",
        "model-table-dropped-by-migration", obj=t.name, location=_at(t),
        evidence=[f"model {t.model} ({_at(t)}) declares table {t.name}; {what}",
                  f"the models still declare {t.name}: the {kind} looks unintended, or the model was not updated",
                  _reading(found), *_notes(m, found, full=False)],
        confidence=0.88 if not doubt else 0.5, fix_vars={"change": change, "tables": t.name},
    )


def _columns_unknown(m: MigrationFacts, chain: set[str]) -> dict[str, str]:
    """Table (as it is named at the end) -> the revision that gave it a column the reader could not read."""
    out: dict[str, str] = {}
    for rev in m.revisions:
        if rev.revision not in chain:
            continue
        ops = table_ops(rev)
        for kind, *names in ops:  # a later create or drop starts the table over
            if kind in ("create", "drop") and names:
                out.pop(plain(names[0]), None)
        for table in rev.columns_unknown:
            why = next((o for o in rev.opaque if f" {table} " in o), "; ".join(rev.opaque[:1]))
            out[plain(table)] = f"revision {rev.revision}: {why}"
        for kind, *names in ops:
            if kind == "rename" and len(names) == 2 and plain(names[0]) in out:
                out[plain(names[1])] = out.pop(plain(names[0]))
    return out


@check(
    "model-columns",
    "Every column the models declare is added by a revision up to head",
    needs=("repo", "migrations"),
    causes=("model-columns-without-migration",),
)
def model_columns(facts: Facts) -> list[Finding]:
    """Good: for each model table that the revisions create, every column the model declares is
    created with the table or added later by a revision up to head (else the app's queries fail with
    "column ... does not exist", or its start-up check reports missing columns)."""
    found = _models(facts)
    if isinstance(found, Finding):
        return [found]
    m: MigrationFacts = facts.migrations  # type: ignore[assignment]
    if m.unknown:
        return _unknown(m, found, "the columns of ")
    chain = ancestors(m, m.heads)
    upto = [r for r in m.revisions if r.revision in chain]
    if any(r.creates for r in upto) and not any(r.adds_columns for r in upto):
        return [not_judged("the migration facts record no columns (a reader or snapshot without "
                           "adds_columns): columns cannot be compared")]
    columns = standing_columns(m, m.heads)
    doubt = unreadable(m, m.heads)
    outside = set(made_outside(m, m.heads))
    out: list[Finding] = []
    theirs: list[ModelTable] = []
    compared = 0
    lacking_all: list[str] = []  # every table.column the findings below report, for one short fix
    # a model without a schema may get one from its MetaData or a computed __table_args__ (see models())
    outside_bare = {n.split(".", 1)[1] for n in outside if "." in n}
    baseline = [t for t in found.tables if plain(t.name) in outside or ("." not in t.name and t.name in outside_bare)]
    unknown = _columns_unknown(m, chain)
    unread = [t for t in found.tables if t not in baseline and plain(t.name) in unknown]
    if unread:  # a column list the reader could not read: "no revision adds" would be a guess
        out.append(not_judged(
            f"the columns of {len(unread)} model table(s) are not judged: a revision gives them columns the "
            "doctor could not read", evidence=[f"not judged: {t.name}: {unknown[plain(t.name)]}" for t in unread]))
    if baseline:  # made outside Alembic: the scripts know only what they added, not the whole table
        out.append(not_judged(
            f"the columns of {len(baseline)} model table(s) are not judged: the revisions alter them but none "
            "creates them, so their baseline columns were made outside Alembic (create_all, then stamp)",
            evidence=[f"not judged: {', '.join(sorted(t.name for t in baseline))}", _reading(found)]))
    for t in found.tables:
        if t in baseline or t in unread:
            continue
        have = columns.get(plain(t.name))
        if have is None and "." not in t.name:  # see models(): a schema from the MetaData
            have = next((cols for name, cols in columns.items() if name.split(".", 1)[-1] == t.name), None)
        if have is None:
            continue  # the table itself has no revision: the models check says so
        lacking = [c for c in t.columns if c not in have]
        if lacking and t.own_migrations:
            theirs.append(t)
            continue
        compared += 1
        if not lacking:
            continue
        shown = ", ".join(lacking)
        lacking_all += [f"{t.name}.{c}" for c in lacking]
        out.append((warn if doubt else fail)(
            f"model {t.model} ({_at(t)}) declares column(s) {shown} of {t.name}, which no revision adds",
            "model-columns-without-migration", obj=t.name, location=_at(t),
            evidence=[f"model {t.model} ({_at(t)}) declares {t.name} with {', '.join(t.columns)}",
                      f"the {len(upto)} revision(s) up to head {_head(m)} leave {t.name} with "
                      f"{', '.join(sorted(have)) or 'no column read'}",
                      _reading(found), *_notes(m, found, full=not any(f.cause for f in out))],
            confidence=0.85 if not doubt else 0.5,
            fix_vars={"tables": t.name},
        ))
    reported = [f for f in out if f.cause == "model-columns-without-migration"]
    for f in reported:  # one `alembic revision --autogenerate` for them all
        f.fix_vars["columns"] = _message(lacking_all, "columns", len(reported))
    out += _not_judged(theirs, "the columns")
    if not compared and not out:  # every model table lacks its revision: nothing compared, nothing ruled out
        out.append(not_applicable(f"no column compared: no model table is created by the {len(upto)} revision(s) "
                                  f"up to head {_head(m)} (the models check judges the tables)"))
    elif compared and not any(f.status != "skip" for f in out):
        out.append(ok(f"every column of the {compared} model table(s) the revisions create is added by a revision "
                      f"up to head {_head(m)}", "model-columns-without-migration",
                      evidence=[_reading(found), *_notes(m, found)]))
    return out
