"""The cause catalog: stable ids (the JSON report's contract), what each means, how to fix it.

Fix steps are templates rendered with the environment's real names ({project},
{region}, {service}, {job}, {alembic_ini}) and with what the finding supplies
(for example {instance}, {tables}, {secret}). Ids are never renamed; add new ones.
``priority`` orders causes of equal confidence: root causes before their symptoms.
"""

from __future__ import annotations

import dataclasses

from netra_doctor.core.records import record


class Step(str):
    """A fix item a person does (review, decide, commit): shown as prose, never after ``$``."""


class Sql(str):
    """A fix item that is SQL, run in ``psql`` as the role it names, not in a shell."""


# how each kind of fix item is printed: a shell prompt, psql's, a bullet
FIX_PREFIX = {"command": "$ ", "sql": "psql> ", "step": "- "}


def fix_kind(item: str) -> str:
    """``command`` (a shell command, runnable as printed), ``sql`` or ``step``."""
    return "step" if isinstance(item, Step) else "sql" if isinstance(item, Sql) else "command"


@record(frozen=True)
class CauseSpec:
    id: str
    title: str
    severity: str  # "error" | "warn"
    confidence: float  # base confidence when a finding supports it
    priority: int  # higher first, among equal confidence
    explain: str  # what it means and why it happens
    fix: tuple[str, ...]
    # another cause this one is the same root cause as, seen from elsewhere: when both are found,
    # this one's evidence joins the other's and the report lists one cause, not two with one fix
    same_as: str = ""


def _c(id, title, severity, confidence, priority, explain, *fix, same_as: str = "") -> CauseSpec:
    return CauseSpec(id, title, severity, confidence, priority, " ".join(explain.split()), tuple(fix), same_as)


_ALL = [
    _c(
        "migration-missing-for-tables",
        "Tables the service needs are created by no Alembic revision",
        "error", 0.9, 100,
        """The service's models (or its startup check) expect tables that no revision in the
        migration scripts creates. `alembic upgrade head` therefore succeeds as a no-op and the
        tables never appear; any create_all fallback at startup then fails or is skipped.""",
        "alembic -c {alembic_ini} revision --autogenerate -m 'create {tables}'",
        Step("review the new revision: autogenerate also drops tables the models do not declare (another "
             "service's tables on a shared database); keep only what you mean, commit it, rebuild and push the image"),
        "gcloud run jobs execute {job} --region {region} --project {project} --wait",
        "gcloud run services update {service} --region {region} --project {project} --image IMAGE",
    ),
    _c(
        "job-service-different-database",
        "The migration job and the service reach different databases",
        "error", 0.85, 95,
        """The job and the service resolve their database settings (env vars and secrets) to a
        different instance, host, database or user, so the job migrates one database while the
        service reads another.""",
        # --update-secrets changes only these names; --set-secrets would drop every other secret of the job
        # point both at the same secrets
        "gcloud run jobs update {job} --region {region} "
        "--project {project} --update-secrets={secret_pairs}",
        "gcloud run jobs execute {job} --region {region} --project {project} --wait",
    ),
    _c(
        "cloudsql-connector-missing",
        "A workload's host is a Cloud SQL socket but the instance is not attached",
        "error", 0.95, 90,
        """The database host is /cloudsql/{instance}, which only exists when the Cloud SQL
        connector is attached to the workload. Without it the connection fails with
        `connection to server on socket "/cloudsql/.../.s.PGSQL.5432" failed: No such file or directory`.""",
        "gcloud run {kind}s update {name} --region {region} --project {project} "
        "--set-cloudsql-instances={instance}",
    ),
    _c(
        "cloudsql-instance-mismatch",
        "The job and the service attach different Cloud SQL instances",
        "error", 0.8, 85,
        """The job and the service each attach a Cloud SQL instance, but not the same one (or the
        host points at one instance while another is attached), so they cannot be talking to
        the same database.""",
        "gcloud run {kind}s update {name} --region {region} --project {project} "
        "--set-cloudsql-instances={instance}",
    ),
    _c(
        "job-command-invalid",
        "The migration job's command cannot run as written",
        "error", 0.95, 88,
        """The job's command and args do not form a valid program: Python given shell text,
        shell text that does not parse, a script split by gcloud's comma rule, a missing
        alembic.ini, or no upgrade target.""",
        "gcloud run jobs update {job} --region {region} --project {project} "
        "--command={command} --args={args}",
    ),
    _c(
        "migration-not-applied",
        "The database is behind the migration scripts' head",
        "error", 0.85, 80,
        """alembic_version records an older revision than the scripts' head: the job has not run
        since the revisions were added, ran against another database, or failed.""",
        "gcloud run jobs execute {job} --region {region} --project {project} --wait",
    ),
    _c(
        "tables-in-other-schema",
        "The tables exist, but in a schema outside the service's search_path",
        "error", 0.8, 75,
        """The expected tables were created in another schema (e.g. the migration role's own
        schema, or a version_table_schema) that the service's search_path does not include.""",
        Sql("ALTER ROLE {user} SET search_path = {search_path};  -- or move the tables: "
            "ALTER TABLE {schema}.<table> SET SCHEMA public;"),
    ),
    _c(
        "tables-invisible-to-role",
        "The tables exist, but the service's role has no privilege on them",
        "error", 0.8, 74,
        """The tables are owned by another role (usually the migration role) and were never
        granted to the service's role, so information_schema hides them from it and queries fail
        with `permission denied`; startup code that lists tables sees none.""",
        Sql("{grants}"),
        Sql("ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} "
            "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {user};"),
    ),
    _c(
        "secret-version-drift",
        "The job and the service pin different versions of the same secret",
        "warn", 0.6, 60,
        """The same env var is bound to the same secret at different versions (or one pins a
        number while the other follows latest), so a rotation reaches one and not the other.""",
        "gcloud run jobs update {job} --region {region} --project {project} --update-secrets={env}={secret}:{version}",
    ),
    _c(
        "secret-unresolvable",
        "A secret a workload references cannot be resolved",
        "error", 0.75, 70,
        """A referenced secret or version does not exist, is disabled, or cannot be read, so the
        workload cannot start with it (and the doctor cannot tell which database it reaches).""",
        "gcloud secrets versions list {secret} --project {project}",
        "gcloud secrets versions add {secret} --project {project} --data-file=-   # then redeploy",
    ),
    _c(
        "revision-unknown-to-code",
        "The database records a revision the migration scripts do not know",
        "error", 0.88, 81,
        """alembic_version holds a revision id that is not in the scripts: the database was
        migrated by a newer (or another branch of the) code, or a revision file was deleted.""",
        Step("find which image created revision {revision}; deploy the job with that code, or "
             "`alembic -c {alembic_ini} stamp <known revision>` after checking the schema by hand"),
    ),
    _c(
        "multiple-heads",
        "The migration scripts have several heads",
        "error", 0.9, 82,
        """Two revisions share a parent, so `alembic upgrade head` refuses to run (it needs
        `heads`) and the job fails or applies only one branch.""",
        "alembic -c {alembic_ini} merge -m 'merge heads' {heads}",
        Step("commit the merge revision, rebuild the image and re-run the job"),
    ),
    _c(
        "job-never-succeeded",
        "The migration job has no successful latest execution",
        "error", 0.8, 86,
        """The job was never executed, or its latest execution failed, so the migrations the
        service depends on were not applied.""",
        "gcloud run jobs executions list --job {job} --region {region} --project {project}   # every run, newest first",
        "gcloud run jobs execute {job} --region {region} --project {project} --wait",
    ),
    _c(
        "job-image-differs",
        "The migration job runs a different image from the service",
        "warn", 0.6, 65,
        """The job's image is not the one the service's serving revision runs; a job on a stale
        tag (often :latest) applies stale revisions and misses the newest ones.""",
        "gcloud run jobs update {job} --region {region} --project {project} --image {image}",
        "gcloud run jobs execute {job} --region {region} --project {project} --wait",
    ),
    _c(
        "revision-stamped-without-schema",
        "alembic_version claims revisions whose tables are not there",
        "error", 0.8, 77,
        """The recorded revision says tables were created that do not exist: the database was
        `alembic stamp`ed, or tables were dropped by hand after migrating. Stamping back makes the
        next upgrade rerun revisions, so the stamp is printed only when the evidence is complete
        (every revision it reruns was fully read and creates only tables that are absent), after a
        psql guard query that must return the recorded revision and 0; otherwise the fix says what
        to look at instead.""",
        # printed only when the evidence is complete (migrations/stamping.py); else the Step says what to look at
        Sql("{stamp_guard}"),
        "alembic -c {alembic_ini} stamp {before}   # {rerun}",
        "gcloud run jobs execute {job} --region {region} --project {project} --wait   # {recreates}",
        Step("{look_at}"),
    ),
    _c(
        "database-auth-failed",
        "A workload's database user cannot log in",
        "error", 0.9, 92,
        """PostgreSQL rejected the password for the user a workload resolves to: the password
        secret and the database user's password differ, or the user does not exist.""",
        "gcloud sql users set-password {user} --instance {instance_name} --project {project} --prompt-for-password",
        "gcloud secrets versions add {secret} --project {project} --data-file=-",
    ),
    _c(
        "database-missing",
        "The database a workload names does not exist",
        "error", 0.9, 91,
        """The database name a workload resolves to is not on the server it reaches.""",
        "gcloud sql databases create {database} --instance {instance_name} --project {project}",
        Step("or fix the POSTGRES_DB secret to name an existing database"),
    ),
    _c(
        "destructive-migration",
        "Pending migrations drop tables or columns",
        "warn", 0.7, 40,
        """Revisions between the database and head drop tables or columns; deploying them loses
        data unless that is intended and backed up.""",
        Step("review {revisions} before deploying"),
        "gcloud sql backups create --instance {instance_name} --project {project}",
    ),
    _c(
        "service-revision-stale",
        "The serving revision failed or predates the last successful migration",
        "warn", 0.6, 55,
        """The service's serving revision is not ready, or started before the migration job last
        succeeded, so it may still hold the startup failure it met before the tables existed.""",
        "gcloud run services update {service} --region {region} --project {project} "
        "--update-env-vars NETRA_DOCTOR_REDEPLOY=$(date +%s)",
    ),
    _c(
        "workload-not-found",
        "The service or the job does not exist where the doctor looked",
        "error", 0.95, 99,
        """The Cloud Run API answered NotFound for the service or the job in the project and region
        the doctor searched: the name, the region or the project is wrong (config, --project,
        $CLOUDSDK_CORE_PROJECT), or the workload was deleted. Nothing else about it can be checked.""",
        "gcloud run {kind}s list --project {project} --region {region}   # or --region - for all regions",
        Step("then set {kind}, region or project under [environments.{environment}] in netra-doctor.toml "
             "(or pass --project)"),
    ),
    _c(
        "model-without-migration",
        "Models declare tables that no Alembic revision creates",
        "error", 0.9, 97,
        """The checkout's SQLAlchemy models declare a table that none of the revisions up to head
        creates. `alembic upgrade head` then succeeds as a no-op and the table never appears; the app
        fails when it first uses it (or its create_all fallback at start-up fails). Found in the code
        about to ship, before any deploy: the gate that would have stopped the seed incident.""",
        "alembic -c {alembic_ini} revision --autogenerate -m 'create {tables}'",
        Step("review the new revision: autogenerate also drops tables the models do not declare (another "
             "service's tables on a shared database); keep only what you mean, commit it, rebuild and push the image"),
        "gcloud run jobs execute {job} --region {region} --project {project} --wait",
        # the models (the checkout) and the tables/logs (the database, the job) see one missing revision
        same_as="migration-missing-for-tables",
    ),
    _c(
        "model-table-dropped-by-migration",
        "A model declares a table that a revision drops or renames",
        "error", 0.88, 98,
        """A revision up to head drops or renames a table that the checkout's models still declare. The
        models and the migrations disagree about a table that exists today: after the rename the app
        queries the old name, after the drop its data is gone. Creating the table again (an autogenerated
        'create' revision) would make an empty table beside the renamed one, or recreate one whose data
        the drop destroyed: the fix is to make the model and the revision agree.""",
        Step("{change}"),
        Step("commit it, rebuild and push the image; never autogenerate a revision that creates the table "
             "again: it would stand empty beside the renamed one, or in place of the dropped data"),
        # before a deploy, the pending drop of that table is the same root cause, seen in the database
        same_as="pending-drop-destroys-data",
    ),
    _c(
        "model-columns-without-migration",
        "Models declare columns that no Alembic revision adds",
        "error", 0.85, 96,
        """A model declares a column that the revisions up to head never create or add to its table, so
        queries fail with `column ... does not exist` and a start-up schema check reports missing columns.""",
        "alembic -c {alembic_ini} revision --autogenerate -m 'add {columns}'",
        Step("review the new revision (keep only the columns you mean), commit it, rebuild and push the image"),
        "gcloud run jobs execute {job} --region {region} --project {project} --wait",
    ),
    _c(
        "pending-migration-conflicts",
        "A pending revision conflicts with the database's real tables",
        "error", 0.9, 93,
        """Replayed over the database's catalog, a revision the job will run creates a table that already
        exists, or renames or drops one that does not: `alembic upgrade head` stops there with an error
        and the deploy's migrations never finish.""",
        Step("fix {revision_file}: {conflict} (or, if the table was made by hand, check it matches the revision "
             "and `alembic -c {alembic_ini} stamp` past it)"),
    ),
    _c(
        "pending-drop-destroys-data",
        "A pending revision drops a table or column that holds data or is in use",
        "error", 0.85, 45,
        """A revision the job will run drops a table (or a column of one) that has rows or was read or
        written since statistics were reset: the data goes, and whatever still uses it (another service
        on a shared database) breaks. Autogenerate writes such drops for every table the models do not
        declare.""",
        Step("review {revision_file}: remove the drop unless the data is meant to go"),
        "gcloud sql backups create --instance {instance_name} --project {project}",
    ),
    _c(
        "pending-lock-risk",
        "A pending revision holds a lock that blocks the service while it works through a big table",
        "error", 0.8, 44,
        """A statement the job will run takes a lock that blocks the running service's reads or writes and
        holds it for as long as its work on an existing table takes: a rewrite (a volatile default, a type
        change that is not binary-coercible), a scan (SET NOT NULL, a CHECK or FOREIGN KEY validated at once),
        or an index build (CREATE INDEX without CONCURRENTLY, a UNIQUE constraint); or a blocking lock taken
        earlier in the same transaction is held while a later statement works (Alembic runs every pending
        revision in one transaction unless env.py sets transaction_per_migration=True). Judged by the
        table's real rows, size and use: an error from 100,000 rows or 100 MB, or from 10,000 rows when the
        service uses it; a table under 10,000 rows and 10 MB, or one the plan creates, is ruled out.""",
        Step("rewrite {revision_file} in the safe form: {safe_form}"),
    ),
    _c(
        "pending-lock-no-timeout",
        "A pending revision waits for a blocking lock on a table the service uses, with no lock_timeout",
        "warn", 0.7, 43,
        """A statement the job will run asks for a lock that blocks the service's reads or writes on a table
        the service uses, and no lock_timeout is in force (none set in the revision before it, on env.py's
        connection, or on the job's role or database). While it waits behind any open transaction, every
        later query on the table queues behind it: an instant ALTER can stall the service for as long as
        the longest transaction runs.""",
        Step("add `{timeout_line}` as the first statement of upgrade() in {revision_file} (with "
             "transaction_per_migration=True, in every revision that takes a lock): a lock not granted in 5 s "
             "fails the job cleanly instead of queueing the service behind it; retry the job later"),
        Sql("ALTER ROLE {user} SET lock_timeout = '5s';  -- changes state: every new session of the job's role "
            "(run as a role that may alter it)"),
    ),
    _c(
        "pending-rename-breaks-service",
        "A pending revision renames a table or column the running service still uses",
        "error", 0.8, 42,
        """A revision the job will run renames a table, or a column of a table, that the service reads or
        writes. The job upgrades before the new revision serves, so between the two the running (old) code
        names what is no longer there and every such query fails (UndefinedTable / UndefinedColumn) until
        the new revision takes all traffic; a rollback of the service fails the same way.""",
        Step("expand and contract instead of {revision_file}'s rename: add {new_name} beside {old_name}, deploy "
             "code that writes both and reads either, backfill, and drop {old_name} in a later release"),
        Step("or bridge the window: after renaming a table, create a view named like the old one over the new "
             "(CREATE VIEW old AS SELECT * FROM new, dropped in the next release); for a column, add the new "
             "name as a generated column instead of renaming"),
    ),
    _c(
        "default-privileges-missing",
        "Tables the migration role creates next will not be granted to the service's role",
        "warn", 0.6, 62,
        """The job migrates as its own role and the service runs as another, on one database. Tables
        the migration role creates are owned by it; unless its default privileges (ALTER DEFAULT
        PRIVILEGES FOR ROLE, pg_default_acl) grant them to the service's role, every table a future
        revision creates is invisible to the service until someone grants it by hand.""",
        Sql("{default_privileges}"),
    ),
    _c(
        "pending-drop-breaks-other-workload",
        "A pending revision drops or renames tables another workload on the database uses",
        "error", 0.9, 98,
        """Several services and jobs share one database. A revision the job will run drops or renames a
        table (or a column) that another workload declares in its models, lists in its tables, or reads:
        the moment it runs, that workload fails. It usually comes from autogenerate run against a database
        where the other workload had created its tables: the migration's models do not declare them, so
        Alembic writes drops for them.""",
        Step("remove from {revision_file} what belongs to {workload}: {what}"),
        Step("exclude {workload}'s tables from autogenerate in env.py, passed as context.configure(..., "
             "include_object=include_object): {include_object}"),
        Step("regenerate the revision with that exclusion in place (alembic revision --autogenerate), review it, "
             "commit it, rebuild and push the image"),
    ),
    _c(
        "workload-lost-tables",
        "A deployed revision dropped tables another workload on the database still uses",
        "error", 0.92, 97,
        """Another workload on the shared database reports missing relations (or its models declare tables
        the database lacks), and a revision already applied (at or below the recorded revision) dropped or
        renamed them: the migration took that workload's tables with it. Restoring them changes state and
        comes first; then keep autogenerate away from them so the next revision does not drop them again.""",
        Step("changes state, guarded: restore {tables} before anything else, from the newest backup taken "
             "before {revision} ran (gcloud sql backups list --instance {instance_name} --project {project}; "
             "restore it to a new instance and copy the tables back), or recreate them with the SQL of "
             "{revision}'s downgrade(), which the next command prints without running anything: review it, "
             "then run it in psql as the tables' owner"),
        "alembic -c {alembic_ini} downgrade {revision}:{down_revision} --sql",
        Step("exclude {workload}'s tables from autogenerate in env.py, passed as context.configure(..., "
             "include_object=include_object): {include_object}"),
        Step("write a revision that no longer drops them (a later revision must not repeat the drop), review it, "
             "commit it, rebuild and push the image"),
    ),
]

CAUSES: dict[str, CauseSpec] = {c.id: c for c in _ALL}


# values a check hands over already shell-quoted (doctor/cloudrun/jobcommand.py): unquoted here, quoted again on fill
_PREQUOTED = ("command", "args")


# a fix variable set to this leaves out every fix line that uses it (a guarded fix whose guard failed)
OMIT = "\x00omit"


def render_fix(spec: CauseSpec, names: dict[str, str], fix_vars: dict[str, str]) -> list[str]:
    """The cause's fix with real names (see render_fix_items)."""
    return [line for _, line in render_fix_items(spec, names, fix_vars)]


def render_fix_items(spec: CauseSpec, names: dict[str, str], fix_vars: dict[str, str]) -> list[tuple[int, str]]:
    """The cause's fix with real names, each line with the index of the catalog's item it renders:
    each name one shell word of a command (``shlex.quote``),
    an identifier in SQL (as PostgreSQL quotes it), escaped text in a step (doctor/safety/untrusted.py)."""
    import shlex

    from netra_doctor.safety.untrusted import FIELD, fill_command, fill_prose, fill_sql

    values = {k: v for k, v in {**names, **{k: v for k, v in fix_vars.items() if v}}.items() if v}
    for key in _PREQUOTED:
        if key in values:
            try:
                words = shlex.split(values[key])
            except ValueError:
                words = []
            values[key] = words[0] if len(words) == 1 else values[key]
    fill = {"step": fill_prose, "sql": fill_sql, "command": fill_command}
    if values.get("alembic_name", "alembic") != "alembic":  # the scripts' section, as the job names it
        spec = dataclasses.replace(spec, fix=tuple(
            type(line)(line.replace("alembic -c {alembic_ini}", "alembic -c {alembic_ini} -n {alembic_name}"))
            for line in spec.fix))
    return [(i, type(line)(fill[fix_kind(line)](line, values))) for i, line in enumerate(spec.fix)
            if not any(values.get(key) == OMIT for key in FIELD.findall(line))]  # a guard said: leave it out


def merged_fix(spec: CauseSpec, names: dict[str, str], findings_vars: list[dict[str, str]]) -> list[str]:
    """One fix for a cause several findings support: each step of the catalog's fix once, with every
    finding's version of it together (the five `alembic revision` commands, then the review, then one job
    run), not the whole fix repeated per finding with the job run between two of them."""
    steps: dict[int, list[str]] = {}
    for fix_vars in findings_vars:
        for i, line in render_fix_items(spec, names, fix_vars):
            step = steps.setdefault(i, [])
            if line not in step:
                step.append(line)
    return list(dict.fromkeys(line for i in sorted(steps) for line in steps[i]))


def unknown(cause_id: str) -> CauseSpec:
    """A cause a third-party check names but the catalog lacks: still reported, never dropped."""
    return CauseSpec(cause_id, cause_id, "error", 0.5, 0, "reported by a plug-in check", ())
