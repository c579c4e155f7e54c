"""A list of choices, six at a time (four on a short screen): a category's questions, the common questions, the
other categories."""

from __future__ import annotations

from kiosk_app.screens.base import KioskScreen, load_kv, show
from kiosk_app.theme import THEME
from kiosk_app.views import Action, ListView


class ListScreen(KioskScreen):
    def refresh(self) -> None:
        view = self.view if isinstance(self.view, ListView) else None
        self.ids.title.text = view.title if view else ""
        self.ids.prompt.text = view.prompt if view else ""
        grid = self.ids.choice_grid
        size = (view.page_size if view and view.page_size else 0) or (
            self.controller.list_page_size if self.controller else 6)
        grid.rows = max(1, -(-size // grid.cols))
        self.fill(grid, view.items if view else ())
        paged = view is not None and view.pages > 1
        self.ids.pager.opacity = 1 if paged else 0
        self.ids.pager.disabled = not paged
        self.ids.pager.height = THEME.touch if paged else 0
        self.ids.page_label.text = f"第{view.page + 1}页，共{view.pages}页" if paged and view else ""
        # A page button that cannot be used is hidden rather than greyed out (grey text fails contrast).
        show(self.ids.prev, paged and view is not None and view.page > 0)
        show(self.ids.next, paged and view is not None and view.page < view.pages - 1)

    def turn(self, step: int) -> None:
        view = self.view
        if isinstance(view, ListView):
            self.perform(Action("", "page", f"{view.kind}:{view.key}:{view.page + step}"))


load_kv(__file__)
