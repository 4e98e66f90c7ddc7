"""The `frontier-operator` command (reserved; implemented by the operator issue)."""

from frontier._stub import not_implemented


def main() -> int:
    return not_implemented("frontier-operator")


if __name__ == "__main__":
    raise SystemExit(main())
