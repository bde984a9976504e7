"""The coalescing, rate-limited store behind ``MidiOut``: pure logic, no threads, no ports.

Callers put the latest normalised value per parameter; :meth:`Throttle.take` hands out the CC
messages that are due: only values whose quantised CC data changed, at most one update per
parameter every ``min_interval_s``, within a token bucket of ``max_messages_per_s`` (``burst``
at once). Memory is bounded by the CC map (one pending value per parameter) and by
``MAX_QUEUED_NOTES``. Not thread-safe: ``MidiOut`` calls it under its lock.

>>> from flowsynth_gui.midi.cc_map import CCMap
>>> throttle = Throttle(CCMap.default(), channel=1, limits=RateLimits(min_interval_s=0.02))
>>> throttle.put({"VCF1: Resonance": 0.2})
1
>>> throttle.put({"VCF1: Resonance": 0.9})  # coalesced: only the latest is kept
1
>>> messages, wait = throttle.take(now=0.0)
>>> [(m.control, m.value) for m in messages], wait
([(71, 114)], None)
>>> throttle.put({"VCF1: Resonance": 0.1})
1
>>> throttle.take(now=0.005)  # too soon for this parameter: wait 15 ms
([], 0.015)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import mido

from flowsynth_gui.midi.cc_map import CCBinding, CCMap

__all__ = ["ALL_NOTES_OFF", "ALL_SOUND_OFF", "MAX_QUEUED_NOTES", "RateLimits", "Throttle"]

ALL_SOUND_OFF = 120
ALL_NOTES_OFF = 123
MAX_QUEUED_NOTES = 512  # only reached if the port stalls; keeps memory bounded


@dataclass(frozen=True)
class RateLimits:
    """How fast ``MidiOut`` may send.

    ``min_interval_s``: at most one update per parameter (both CCs of a 14-bit pair) this often.
    ``max_messages_per_s`` and ``burst``: a token bucket over all messages; the default is
    about what a DIN MIDI cable carries, and a burst holds a whole preset. Notes may borrow
    from the bucket (they must not wait); later CCs then wait until it refills.
    """

    min_interval_s: float = 0.02
    max_messages_per_s: float = 1000.0
    burst: int = 128

    def __post_init__(self) -> None:
        if self.min_interval_s < 0 or self.max_messages_per_s <= 0 or self.burst < 2:
            raise ValueError("rate limits: min_interval_s >= 0, max_messages_per_s > 0 and "
                             "burst >= 2 (a 14-bit pair is two messages)")


class Throttle:
    """Latest value per parameter in, due CC and note messages out (see the module doc)."""

    def __init__(self, cc_map: CCMap, channel: int, limits: RateLimits) -> None:
        self.cc_map = cc_map
        self.channel = channel  # 1..16
        self.limits = limits
        self.expedite = False  # set by a flush: ignore the per-parameter interval once
        self._latest: dict[str, float] = {}  # every value asked for, mapped or not
        self._latest_q: dict[str, int] = {}  # quantised, for mapped parameters
        self._pending: dict[str, int] = {}  # the coalescing store: parameter -> latest value
        self._sent: dict[int, int] = {}  # CC -> data the receiver has (this connection)
        self._next_ok: dict[str, float] = {}  # parameter -> earliest next send (monotonic)
        self._notes: deque[tuple[str, int, int]] = deque(maxlen=MAX_QUEUED_NOTES)
        self._sounding: set[tuple[int, int]] = set()  # (channel 0..15, note) we switched on
        self._tokens = float(limits.burst)
        self._refilled: float | None = None

    # -- input ----------------------------------------------------------------------------
    def put(self, values: Mapping[str, float]) -> int:
        """Store validated normalised values; returns how many mapped values changed."""
        self._latest.update(values)
        changed = 0
        for name, value in values.items():
            binding = self.cc_map.binding(name)
            if binding is None:
                continue
            quantised = round(value * binding.steps)  # validated by the caller
            if self._latest_q.get(name) != quantised:
                self._latest_q[name] = self._pending[name] = quantised
                changed += 1
        return changed

    def queue_note(self, kind: str, note: int, velocity: int) -> None:
        """``kind``: 'on', 'off' or 'panic' (note and velocity unused)."""
        self._notes.append((kind, note, velocity))

    def resend_all(self) -> None:
        """Forget what the receiver has: every current value goes out again (new connection,
        channel or map)."""
        self._sent.clear()
        self._next_ok.clear()
        self._latest_q.clear()
        self._pending.clear()
        self.put(self._latest)

    def disconnected(self) -> None:
        """Queued notes are dropped (a late note would surprise) and sounding ones forgotten."""
        self._notes.clear()
        self._sounding.clear()

    @property
    def busy(self) -> bool:
        """Whether anything waits to be sent."""
        return bool(self._pending or self._notes)

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    # -- output ---------------------------------------------------------------------------
    def take(self, now: float) -> tuple[list[mido.Message], float | None]:
        """Messages due at ``now`` (monotonic seconds), or none and how long to wait (None:
        nothing pending)."""
        self._refill(now)
        if self._notes:
            # The preview must sound the current patch: pending values go first, at once.
            messages, _ = self._take_params(now, force=True, borrow=True)
            return messages + self._take_notes(), None
        messages, wait = self._take_params(now, force=self.expedite, borrow=False)
        if not self._pending:
            self.expedite = False
        return messages, wait

    def _refill(self, now: float) -> None:
        elapsed = 0.0 if self._refilled is None else now - self._refilled
        self._tokens = min(float(self.limits.burst),
                           self._tokens + elapsed * self.limits.max_messages_per_s)
        self._refilled = now

    def _take_params(self, now: float, force: bool,
                     borrow: bool) -> tuple[list[mido.Message], float | None]:
        """Due, changed parameters within the budget; ``force`` ignores the interval,
        ``borrow`` the budget."""
        messages: list[mido.Message] = []
        wait: float | None = None
        for name in list(self._pending):
            binding = self.cc_map.binding(name)
            due = self._next_ok.get(name, 0.0)
            if binding is not None and not force and due > now:
                wait = due - now if wait is None else min(wait, due - now)
                continue
            pairs = self._changed_pairs(binding, self._pending[name]) if binding else ()
            if pairs and not borrow and self._tokens < len(pairs):
                shortfall = (len(pairs) - self._tokens) / self.limits.max_messages_per_s
                wait = shortfall if wait is None else min(wait, shortfall)
                break  # keep the store's order: no parameter overtakes a waiting one
            del self._pending[name]
            if not pairs:
                continue
            self._tokens -= len(pairs)
            self._next_ok[name] = now + self.limits.min_interval_s
            messages.extend(self._cc_messages(pairs))
        return messages, wait

    def _changed_pairs(self, binding: CCBinding, quantised: int) -> tuple[tuple[int, int], ...]:
        """The (cc, data) pairs that differ from what the receiver has."""
        pairs = binding.cc_values(quantised)
        if binding.bits == 7:
            return pairs if self._sent.get(pairs[0][0]) != pairs[0][1] else ()
        (msb_cc, msb), (lsb_cc, lsb) = pairs
        if self._sent.get(msb_cc) != msb:
            return pairs  # a new MSB resets the receiver's LSB (MIDI 1.0): send both
        return ((lsb_cc, lsb),) if self._sent.get(lsb_cc) != lsb else ()

    def _cc_messages(self, pairs: tuple[tuple[int, int], ...]) -> list[mido.Message]:
        channel = self.channel - 1
        for cc, data in pairs:
            self._sent[cc] = data
        return [mido.Message("control_change", channel=channel, control=cc, value=data)
                for cc, data in pairs]

    def _take_notes(self) -> list[mido.Message]:
        messages: list[mido.Message] = []
        channel = self.channel - 1
        while self._notes:
            kind, note, velocity = self._notes.popleft()
            if kind == "on":
                self._sounding.add((channel, note))
                messages.append(mido.Message("note_on", channel=channel, note=note,
                                             velocity=velocity))
            elif kind == "off":
                self._sounding.discard((channel, note))
                messages.append(mido.Message("note_off", channel=channel, note=note))
            else:
                messages.extend(self._panic_messages(channel))
        self._tokens -= len(messages)
        return messages

    def _panic_messages(self, channel: int) -> list[mido.Message]:
        """Note-offs for our notes (on whatever channel they started), then All Notes Off and
        All Sound Off on each of those channels and the current one."""
        messages = [mido.Message("note_off", channel=ch, note=n)
                    for ch, n in sorted(self._sounding)]
        for ch in sorted({channel} | {ch for ch, _ in self._sounding}):
            messages.append(mido.Message("control_change", channel=ch, control=ALL_NOTES_OFF))
            messages.append(mido.Message("control_change", channel=ch, control=ALL_SOUND_OFF))
        self._sounding.clear()
        return messages
