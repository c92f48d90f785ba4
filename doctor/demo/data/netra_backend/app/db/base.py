"""The declarative base every model shares (its MetaData is what autogenerate compares)."""

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass
