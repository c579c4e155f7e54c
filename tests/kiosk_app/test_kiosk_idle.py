"""The idle rule: warning after the idle time, a spoken countdown at milestones, then clear."""

from __future__ import annotations

from kiosk_app.idle import IdleEvent, IdleTracker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_no_warning_when_nobody_is_there() -> None:
    clock = Clock()
    tracker = IdleTracker(60, 20, clock)
    clock.now = 10_000
    assert tracker.tick() is None


def test_warning_countdown_and_timeout() -> None:
    clock = Clock()
    tracker = IdleTracker(60, 30, clock)
    tracker.touch()
    clock.now = 59
    assert tracker.tick() is None
    clock.now = 60
    step = tracker.tick()
    assert step is not None and step.event is IdleEvent.WARN and step.seconds_left == 30 and step.speak
    spoken = []
    for second in range(61, 90):
        clock.now = second
        step = tracker.tick()
        assert step is not None and step.event is IdleEvent.COUNTDOWN
        if step.speak:
            spoken.append(step.seconds_left)
    assert spoken == [20, 10, 5]
    clock.now = 90
    step = tracker.tick()
    assert step is not None and step.event is IdleEvent.TIMEOUT
    assert not tracker.active and tracker.tick() is None


def test_a_touch_during_the_warning_starts_over() -> None:
    clock = Clock()
    tracker = IdleTracker(60, 20, clock)
    tracker.touch()
    clock.now = 61
    assert tracker.tick().event is IdleEvent.WARN
    tracker.touch()
    assert not tracker.warning
    clock.now = 100
    assert tracker.tick() is None
    clock.now = 121
    assert tracker.tick().event is IdleEvent.WARN


def test_a_slow_tick_still_speaks_a_skipped_milestone_once() -> None:
    clock = Clock()
    tracker = IdleTracker(10, 30, clock)
    tracker.touch()
    clock.now = 10
    tracker.tick()
    clock.now = 22  # 18 left: the 20 s milestone was skipped by a late tick
    step = tracker.tick()
    assert step.speak and step.seconds_left == 18
    clock.now = 23
    assert not tracker.tick().speak
