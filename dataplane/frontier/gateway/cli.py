"""The `frontier` command (reserved; implemented by its own issue)."""

from frontier._stub import not_implemented


def main() -> int:
    return not_implemented("frontier")


if __name__ == "__main__":
    raise SystemExit(main())
