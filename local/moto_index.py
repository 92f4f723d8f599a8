"""Placeholder, filled in below."""


def install() -> None:
    pass
