"""How long a submission took or has waited, as its pages show it."""

from datetime import timedelta


def seconds(value) -> str:
    """A timedelta or a number of seconds as `42 ms`, `1.25 s`, `12 s` or `3 min 5 s`; empty for None."""
    if value is None:
        return ""
    total = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if total < 1:
        return f"{total * 1000:.0f} ms"
    if total < 10:
        return f"{total:.2f} s"
    if total < 60:
        return f"{total:.0f} s"
    minutes, rest = divmod(round(total), 60)
    return f"{minutes} min {rest} s"
