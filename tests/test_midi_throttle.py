"""The coalescing, rate-limited store behind MidiOut, on a virtual clock (deterministic)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from flowsynth_gui.midi.cc_map import CCBinding, CCMap
from flowsynth_gui.midi.throttle import MAX_QUEUED_NOTES, RateLimits, Throttle

RES, CUTOFF = "VCF1: Resonance", "VCF1: Frequency"


def drain(throttle: Throttle, start: float, until: float, step: float = 0.001) -> list:
    """Take messages every ``step`` seconds of virtual time; [(time, message)]."""
    out, now = [], start
    while now <= until:
        messages, _ = throttle.take(now)
        out.extend((now, m) for m in messages)
        now += step
    return out


def test_a_parameter_is_sent_at_most_once_per_interval_and_ends_on_the_last_value() -> None:
    throttle = Throttle(CCMap.default(), 1, RateLimits(min_interval_s=0.02))
    sent = []
    for i in range(1000):  # 1,000 updates over one virtual second
        now = i / 1000
        throttle.put({RES: i / 999})
        sent.extend((now, m) for m in throttle.take(now)[0])
    sent.extend(drain(throttle, 1.0, 1.1))
    times = [t for t, _ in sent]
    assert len(sent) <= 1.1 / 0.02 + 1
    assert all(b - a >= 0.02 - 1e-9 for a, b in zip(times, times[1:], strict=False))
    assert sent[-1][1].value == 127


def test_the_token_bucket_caps_the_message_rate() -> None:
    limits = RateLimits(min_interval_s=0, max_messages_per_s=100, burst=10)
    cc_map = CCMap.default()
    throttle = Throttle(cc_map, 1, limits)
    sent = []
    for i in range(500):  # every parameter moves every 2 ms for one virtual second
        now = i * 0.002
        throttle.put({name: (i % 50) / 50 for name in cc_map.params})
        sent.extend((now, m) for m in throttle.take(now)[0])
    assert len(sent) <= 10 + 100 * 1.0 + 1
    window = [t for t, _ in sent if 0.5 <= t < 1.0]
    assert len(window) <= 100 * 0.5 + 2


def test_nothing_is_sent_twice_and_a_14bit_lsb_goes_alone() -> None:
    throttle = Throttle(CCMap.default(), 1, RateLimits(min_interval_s=0))
    throttle.put({CUTOFF: 8192 / 16383})
    assert [(m.control, m.value) for m in throttle.take(0.0)[0]] == [(16, 64), (48, 0)]
    assert throttle.put({CUTOFF: 8192 / 16383}) == 0
    throttle.put({CUTOFF: 8193 / 16383})
    assert [(m.control, m.value) for m in throttle.take(0.1)[0]] == [(48, 1)]
    throttle.put({CUTOFF: 0.0})
    throttle.put({CUTOFF: 8193 / 16383})  # back before it went out: nothing to send
    assert throttle.take(0.2) == ([], None)


def test_a_note_sends_pending_values_first_even_when_not_due() -> None:
    throttle = Throttle(CCMap.default(), 3, RateLimits(min_interval_s=10))
    throttle.put({RES: 0.0})
    throttle.take(0.0)
    throttle.put({RES: 1.0})
    throttle.queue_note("on", 60, 100)
    messages, _ = throttle.take(0.001)
    assert [(m.type, m.channel) for m in messages] == [("control_change", 2), ("note_on", 2)]


def test_resend_all_after_a_reconnect_and_bounded_notes() -> None:
    throttle = Throttle(CCMap((CCBinding(RES, 71),)), 1, RateLimits(min_interval_s=0))
    throttle.put({RES: 0.5, "VCA1: Pan": 0.1})  # Pan: unmapped, remembered
    throttle.take(0.0)
    throttle.cc_map = CCMap((CCBinding(RES, 71), CCBinding("VCA1: Pan", 10)))
    throttle.resend_all()
    assert sorted(m.control for m in throttle.take(1.0)[0]) == [10, 71]
    for _ in range(MAX_QUEUED_NOTES * 2):
        throttle.queue_note("on", 60, 1)
    assert len(throttle.take(2.0)[0]) == MAX_QUEUED_NOTES
    throttle.queue_note("on", 61, 1)
    throttle.disconnected()
    assert not throttle.busy


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([RES, CUTOFF, "ENV1: Attack"]),
                          st.floats(0, 1), st.floats(0, 0.05)), min_size=1, max_size=60))
def test_whatever_the_updates_the_receiver_ends_with_the_latest_values(updates) -> None:
    cc_map = CCMap.default()
    throttle = Throttle(cc_map, 1, RateLimits(min_interval_s=0.02, max_messages_per_s=300,
                                              burst=4))
    receiver: dict[int, int] = {}
    now, latest = 0.0, {}
    for name, value, gap in updates:
        throttle.put({name: value})
        latest[name] = value
        now += gap
        for m in throttle.take(now)[0]:
            receiver[m.control] = m.value
    for _, m in drain(throttle, now, now + 1.0, step=0.005):
        receiver[m.control] = m.value
    for name, value in latest.items():
        for cc, data in cc_map.binding(name).encode(value):
            assert receiver[cc] == data
    assert throttle.pending_count == 0
