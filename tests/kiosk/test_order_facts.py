"""An order's facts from its three views (the gateway's answer, its query, a relayed
notification): joined in any order, any number of times, they come out the same, and money
once seen taken is never un-taken."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kiosk.backends import OrderStatus
from kiosk.journal import OrderKind
from kiosk.transaction.orders import OrderFacts, Standing

VIEWS = st.lists(st.tuples(st.sampled_from(list(OrderStatus)), st.sampled_from((0, 300, 1000)),
                           st.booleans()), min_size=1, max_size=8)


def fold(views) -> OrderFacts:
    facts = OrderFacts("O1", OrderKind.MICROPAY, 1000)
    for status, refunded, confirmed in views:
        facts = facts.seen(status, refunded, confirmed=confirmed)
    return facts


@given(VIEWS, st.randoms())
def test_duplicates_and_late_views_change_nothing(views, random):
    shuffled = list(views)
    random.shuffle(shuffled)
    repeated = shuffled + shuffled[: len(shuffled) // 2]
    assert fold(views) == fold(shuffled) == fold(repeated)


@given(VIEWS)
def test_money_seen_taken_stays_taken(views):
    paid = [v for v in views if v[0] in (OrderStatus.SUCCESS, OrderStatus.REFUND)]
    facts = fold(views)
    if paid:
        assert facts.paid and facts.standing is Standing.PAID
    assert facts.refunded_fen == max(v[1] for v in views)


def test_a_closed_query_after_a_paid_notification_is_still_paid():
    facts = fold([(OrderStatus.SUCCESS, 0, False), (OrderStatus.CLOSED, 0, True)])
    assert facts.paid and facts.confirmed and facts.kept_fen == 1000
