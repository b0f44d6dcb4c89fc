"""Rows written in bulk with their history rows, at close to COPY speed.

`rows_insert` takes plain values by attribute name (`participant_id`, `due_at`…), fills the
columns left out from the model's defaults as `Model.save` would, prepares every value once
and writes the rows — and, when asked, their django-simple-history rows ("+", who, when,
why) from the same prepared values. An encrypted field is encrypted once: the history row
holds the row's own ciphertext, which decrypts to the same value.

On PostgreSQL the ids are taken from the table's sequence in one query and each table is
written by one COPY (psycopg 3 `cursor.copy`). Elsewhere (SQLite in tests and
development) Django's bulk_create writes the same rows. COPY has no ON CONFLICT: it is for
rows nobody else can be writing (new rows of new parents, or under a lock the caller holds).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connections, models, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import Value
from psycopg import sql

# Field classes whose Python value is already what the database driver takes (psycopg and
# sqlite3 adapt them): no per-value preparation. Exact classes only: a subclass (an encrypted
# text field) has its own preparation.
_AS_IS: tuple[type[models.Field], ...] = (
    models.AutoField,
    models.BigAutoField,
    models.BigIntegerField,
    models.BooleanField,
    models.CharField,
    models.DateTimeField,
    models.ForeignKey,
    models.IntegerField,
    models.OneToOneField,
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
    models.SmallIntegerField,
    models.TextField,
)


@dataclass(frozen=True)
class HistoryStamp:
    """What every history row of one bulk write says: who, when, why (type "+", created)."""

    user_id: int | None
    date: datetime
    change_reason: str | None = None


Prepare = Callable[[Any], Any]


@dataclass(frozen=True)
class _Column:
    field: models.Field
    prepare: Prepare | None  # None: the value goes to the driver as it is
    # A column left out of a row: a callable default is called for each row (and prepared),
    # anything else is the same prepared value for every row.
    factory: Callable[[], Any] | None
    constant: Any


_MISSING = object()


def _columns(model: type[models.Model], now: datetime, connection: BaseDatabaseWrapper) -> list[_Column]:
    columns = []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        prepare = None if type(field) in _AS_IS else _preparer(field, connection)
        factory, constant = None, None
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            constant = now  # one instant for the whole write
        elif field.has_default() and callable(field.default):
            factory = field.get_default
        else:
            constant = field.get_default()
            if prepare is not None and constant is not None:
                constant = prepare(constant)
        columns.append(_Column(field=field, prepare=prepare, factory=factory, constant=constant))
    return columns


def _preparer(field: models.Field, connection: BaseDatabaseWrapper) -> Prepare:
    def prepare(value: Any) -> Any:
        return field.get_db_prep_save(value, connection)

    return prepare


def _prepared(rows: Sequence[Mapping[str, Any]], columns: list[_Column]) -> list[list[Any]]:
    """One list of database-ready values per row, in column order; each value prepared once."""
    names = {column.field.attname for column in columns}
    for row in rows[:1]:
        unknown = set(row) - names
        if unknown:
            raise ValueError(f"Unknown column(s) {sorted(unknown)}.")
    plan = [(column.field.attname, column.prepare, column.factory, column.constant) for column in columns]
    table = []
    for row in rows:
        values = []
        for name, prepare, factory, constant in plan:
            value = row.get(name, _MISSING)
            if value is _MISSING:
                if factory is None:
                    values.append(constant)
                    continue
                value = factory()
            values.append(value if prepare is None or value is None else prepare(value))
        table.append(values)
    return table


def rows_insert(
    model: type[models.Model],
    rows: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    history: HistoryStamp | None = None,
) -> list[int]:
    """Insert `rows` (values by attribute name) and, with `history`, their history rows.

    Returns the new primary keys, in the order of `rows`. `now` fills auto_now(_add) columns.
    Must run inside a transaction (the rows and their history commit together)."""
    if not rows:
        return []
    if not isinstance(model._meta.pk, models.AutoField):
        raise ValueError(f"{model.__name__}: rows_insert takes its ids from a sequence (an auto primary key).")
    connection = connections[router.db_for_write(model)]
    columns = _columns(model, now, connection)
    table = _prepared(rows, columns)
    if connection.vendor == "postgresql":
        ids = _ids_reserve(connection, model, len(table))
        _copy(
            connection,
            model,
            [model._meta.pk, *(c.field for c in columns)],
            ([i, *v] for i, v in zip(ids, table, strict=True)),
        )
    else:
        ids = _bulk_create(model, columns, table)
    if history is not None:
        _history_insert(connection, model, columns, table, ids, history)
    return ids


def objects_insert(
    objs: Sequence[models.Model], *, now: datetime, history: HistoryStamp | None = None
) -> list[models.Model]:
    """rows_insert for unsaved instances of one model, as bulk_create takes them: auto_now(_add)
    columns are set to `now` (on the instances too), and each instance gets its primary key."""
    if not objs:
        return list(objs)
    model = type(objs[0])
    connection = connections[router.db_for_write(model)]
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    stamped = [f.attname for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
    names = [field.attname for field in fields]
    rows = []
    for obj in objs:
        for name in stamped:
            setattr(obj, name, now)
        rows.append({name: getattr(obj, name) for name in names})
    for obj, pk in zip(objs, rows_insert(model, rows, now=now, history=history), strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
    return list(objs)


def _ids_reserve(connection: BaseDatabaseWrapper, model: type[models.Model], count: int) -> list[int]:
    """`count` ids from the table's own sequence: ids a concurrent insert can never take."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def _copy(connection: BaseDatabaseWrapper, model: type[models.Model], fields: list[models.Field], rows) -> None:
    statement = sql.SQL("COPY {table} ({columns}) FROM STDIN").format(
        table=sql.Identifier(model._meta.db_table),
        columns=sql.SQL(", ").join([sql.Identifier(str(field.column)) for field in fields]),
    )
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _as_prepared(values: list[Any], columns: list[_Column]) -> dict[str, Any]:
    """Attribute values for a model instance handed to bulk_create: a value already prepared
    (a ciphertext) is wrapped so that bulk_create writes it as it is instead of preparing it again."""
    return {
        column.field.attname: value if column.prepare is None or value is None else Value(value, models.Field())
        for column, value in zip(columns, values, strict=True)
    }


def _bulk_create(model: type[models.Model], columns: list[_Column], table: list[list[Any]]) -> list[int]:
    created = model._default_manager.bulk_create([model(**_as_prepared(values, columns)) for values in table])
    return [obj.pk for obj in created]


def _history_insert(
    connection: BaseDatabaseWrapper,
    model: type[models.Model],
    columns: list[_Column],
    table: list[list[Any]],
    ids: list[int],
    stamp: HistoryStamp,
) -> None:
    historical = model.history.model  # type: ignore[attr-defined]
    tracked = {field.attname for field in historical.tracked_fields}
    kept = [i for i, column in enumerate(columns) if column.field.attname in tracked]
    pk_name = model._meta.pk.attname
    by_name = {
        "history_date": stamp.date,
        "history_change_reason": stamp.change_reason,
        "history_type": "+",
        "history_user_id": stamp.user_id,
    }
    if connection.vendor == "postgresql":
        fields = [
            historical._meta.get_field(pk_name),
            *(historical._meta.get_field(columns[i].field.name) for i in kept),
        ]
        fields += [
            historical._meta.get_field(name) for name in ("history_date", "history_change_reason", "history_type")
        ]
        fields.append(historical._meta.get_field("history_user"))
        extra = list(by_name.values())
        _copy(
            connection,
            historical,
            fields,
            ([pk, *(values[i] for i in kept), *extra] for pk, values in zip(ids, table, strict=True)),
        )
        return
    kept_columns = [columns[i] for i in kept]
    historical._default_manager.bulk_create(
        [
            historical(
                **{pk_name: pk},
                **_as_prepared([values[i] for i in kept], kept_columns),
                **by_name,
            )
            for pk, values in zip(ids, table, strict=True)
        ]
    )
