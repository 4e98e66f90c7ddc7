"""TimerBook's per-operation shortcuts (`set_op`, `cancel_op`) behave as `set` and `cancel`."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from frontier.geminio.timer_requests import (
    HEARTBEAT_TIMER,
    IDLE_TIMER,
    TimerBook,
    TimerKey,
    TimerKind,
    timer_key,
)

OP_KEYS = [timer_key(kind, sid, ident) for kind in (TimerKind.PUBLISH, TimerKind.REQUEST)
           for sid in (0, 7) for ident in (1, 2)]  # fmt: skip
CONN_KEYS = [IDLE_TIMER, HEARTBEAT_TIMER]

steps = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.sampled_from(OP_KEYS + CONN_KEYS), st.floats(0, 60)),
        st.tuples(st.just("cancel"), st.sampled_from(OP_KEYS + CONN_KEYS), st.just(0.0)),
        st.tuples(st.just("expire"), st.sampled_from(OP_KEYS + CONN_KEYS), st.just(0.0)),
        st.tuples(st.just("take"), st.just(IDLE_TIMER), st.just(0.0)),
    ),
    max_size=40,
)


def _step(book: TimerBook, what: str, key: TimerKey, delay: float, *, shortcut: bool) -> object:
    op = shortcut and key in OP_KEYS
    if what == "set":
        (book.set_op if op else book.set)(key, delay)
        return None
    if what == "cancel":
        (book.cancel_op if op else book.cancel)(key)
        return None
    if what == "expire":
        return book.expire(key)
    return book.take()


@given(steps)
def test_op_shortcuts_match_the_general_methods(script: list[tuple[str, TimerKey, float]]) -> None:
    general, shortcut = TimerBook(), TimerBook()
    for what, key, delay in script:
        assert _step(general, what, key, delay, shortcut=False) == _step(
            shortcut, what, key, delay, shortcut=True
        )
        assert general.armed == shortcut.armed
    assert general.take() == shortcut.take()
    assert shortcut.armed == general.armed
