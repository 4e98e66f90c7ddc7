"""The `frontlas` command (reserved; implemented by its own issue)."""

from frontier._stub import not_implemented


def main() -> int:
    return not_implemented("frontlas")


if __name__ == "__main__":
    raise SystemExit(main())
