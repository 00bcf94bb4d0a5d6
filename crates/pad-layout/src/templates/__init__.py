"""The {{name}} pipeline: replace `run` with its logic."""


def run(snapshot: str) -> str:
    """Process one snapshot (a YYYY-MM-DD date) and describe what was done."""
    return f"{{name}} processed snapshot {snapshot}"
