def join_strings(first: str, second: str) -> str:
    """Join the two strings the way the seed does: `cats` and `dogs` give `cats es dogs`."""
    return f"{first} es {second}"
