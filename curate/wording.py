"""How sentences name counts and lists: '3 classes', 'a, b, c and 7 more'."""

SHOWN = 5  # how many items of a list a sentence names
LONGEST = 2000  # characters an error sentence shows: a value echoed back may be a whole file pasted by mistake,
# while five long paths named in one sentence still fit


def some(items: list[str], shown: int = SHOWN) -> str:
    """'a, b, c' or 'a, b, c and 7 more'."""
    head = ", ".join(items[:shown])
    return head if len(items) <= shown else f"{head} and {len(items) - shown:,} more"


def plural(count: int, word: str) -> str:
    many = word + ("es" if word.endswith(("s", "x")) else "s")
    return f"{count:,} {word if count == 1 else many}"


def amount_of_bytes(count: int) -> str:
    """'512 bytes', '14.9 MB', '3.0 TB': a size on disk, in decimal units up to exabytes."""
    if count < 1000:
        return plural(count, "byte")
    for unit in ("kB", "MB", "GB", "TB", "PB", "EB"):
        count /= 1000
        if count < 1000 or unit == "EB":
            return f"{count:,.1f} {unit}"


def has(count: int) -> str:
    """'has' or 'have', to agree with a count."""
    return "has" if count == 1 else "have"


def bounded(sentence: str, longest: int = LONGEST) -> str:
    """`sentence`, its middle left out when it is longer than `longest` characters (its start says what went
    wrong, its end what to do)."""
    if len(sentence) <= longest:
        return sentence
    left_out = len(sentence) - longest + 100
    return f"{sentence[: longest - 200]} … ({left_out:,} characters left out) … {sentence[-100:]}"
