import unicodedata

# What web_app's form accepts, checked again here: anyone who can publish to the broker can send any arguments.
MAX_LENGTH = 200
# Control characters and the line and paragraph separators, which would split a result over lines.
LINE_BREAKING_CATEGORIES = {"Cc", "Zl", "Zp"}
# Unicode's Bidi_Control characters, which reorder the text shown around them.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def join_strings(first: str, second: str) -> str:
    """Join the two strings the way the seed does: `cats` and `dogs` give `cats es dogs`.

    Raises TypeError or ValueError, naming the argument, for what the form would refuse.
    """
    for name, value in (("first", first), ("second", second)):
        checked_text(name, value)
    return f"{first} es {second}"


def checked_text(name: str, value) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be text, not {type(value).__name__}")
    if len(value) > MAX_LENGTH:
        raise ValueError(f"{name} has {len(value)} characters, more than {MAX_LENGTH}")
    for character in value:
        if unicodedata.category(character) in LINE_BREAKING_CATEGORIES or character in BIDI_CONTROLS:
            raise ValueError(f"{name} holds a line break or control character (U+{ord(character):04X})")
