"""The controller without a display: what each tap shows and says, using the in-process assistant."""

from __future__ import annotations

from kiosk_app.views import ANSWER, HOME, LIST, Action


def test_tile_question_answer_is_spoken(make_controller) -> None:
    controller = make_controller()
    controller.start()
    assert controller.ui.last[0] == HOME
    controller.idle.touch()
    controller.perform(Action("养老服务", "category", "yanglao"))
    screen, view = controller.ui.last
    assert screen == LIST
    assert any(a.argument == "senior-age-allowance" for a in view.items)
    controller.perform(Action("高龄津贴怎么申请", "ask", "senior-age-allowance"))
    screen, view = controller.ui.last
    assert screen == ANSWER, view
    print(view)
    print(controller.speech.engine.texts)
