"""Composite panel: the composite faces of an analysis run, views, analyst adjustments.

A composite shows traits estimated from the voice (sex, age) and everything else as an
illustrative default; the panel says which is which, on the image and beside it.
Analyst adjustments never overwrite a composite: "Save version" renders a new version
derived from the one shown (``services.composites.adjust_composite``). While sliders
move, the shown view is re-rendered as a preview (debounced, in a worker,
``services.composites.preview_composite``): nothing is stored until "Save version".
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from s2f_desktop.core.models import AnalysisRun, Composite, Origin
from s2f_desktop.core.traits import INCONCLUSIVE
from s2f_desktop.gui.errors import ErrorReporter
from s2f_desktop.gui.pages import JobPage, split_page
from s2f_desktop.gui.workers import JobRunner, show_progress
from s2f_desktop.report.language import fmt_probability

SLIDER_STEPS = 1000
#: Pause after the last slider move before the preview renders (ms).
PREVIEW_DELAY_MS = 250
#: Preview size (px): small enough to render while the analyst drags.
PREVIEW_SIZE = 320
PREVIEW_BADGE = "PREVIEW, NOT SAVED — ILLUSTRATIVE, NOT A LIKENESS"
#: The export button's tooltip, and why it is off while unsaved slider changes are previewed.
EXPORT_TIP = ("Save the shown view as a PNG. The file carries the burned-in marking (illustrative composite — "
              "not a likeness, case, composite id, version).")
EXPORT_UNSAVED_TIP = ("Exports are of stored versions only: press Save version to record the changes on screen "
                      "as a new version (or reset the sliders), then export it.")
ILLUSTRATIVE_NOTE = ("Illustrative: only sex and age come from the voice. Face shape, skin, hair and every other "
                     "feature are neutral defaults or analyst choices. This is not a likeness of anyone.")


def _svc() -> Any:
    from s2f_desktop.services import composites

    return composites


def _marking() -> Any:
    from s2f_desktop.report import marking

    return marking


def _side_by_side(pixmaps: list[QPixmap], gap: int = 8) -> QPixmap:
    """Pixmaps next to each other on the view's background (an inconclusive-sex pair)."""
    h = max(p.height() for p in pixmaps)
    out = QPixmap(sum(p.width() for p in pixmaps) + gap * (len(pixmaps) - 1), h)
    out.fill(QColor("#1b1f24"))
    painter = QPainter(out)
    x = 0
    for p in pixmaps:
        painter.drawPixmap(x, 0, p)
        x += p.width() + gap
    painter.end()
    return out


def param_value(comp: Composite, name: str) -> Any:
    """The value of a composite parameter (None when the composite does not have it)."""
    p = comp.parameters.get(name)
    return None if p is None else p.value


class ImageView(QLabel):
    """Scales a composite image to fit; an 'ILLUSTRATIVE' badge is painted on images stored unmarked.

    Images stored by this version carry their own burned-in marking (bands and a
    diagonal mark), which the badge would only cover.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pix: QPixmap | None = None
        self._marked = False
        self.badge = "ILLUSTRATIVE COMPOSITE — NOT A LIKENESS"
        self.setMinimumSize(320, 320)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setStyleSheet("background:#1b1f24; color:#c8d0d8;")
        self.setWordWrap(True)  # a message in place of the image (e.g. an altered file) must wrap, not widen the page

    def set_image(self, pix: QPixmap | None, text: str = "", marked: bool = False) -> None:
        """Show a pixmap (or a text when there is none); ``marked``: it carries its own marking."""
        self._marked = marked
        self._pix = pix if pix is not None and not pix.isNull() else None
        if self._pix is None:
            self.setPixmap(QPixmap())
            self.setText(text or "No composite")
        else:
            self.setText("")
            self._rescale()

    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._pix is None:
            return
        scaled = self._pix.scaled(self.size() * 0.98, Qt.AspectRatioMode.KeepAspectRatio,
                                  Qt.TransformationMode.SmoothTransformation)
        if self._marked:
            self.setPixmap(scaled)
            return
        marked = QPixmap(scaled)
        p = QPainter(marked)
        font = QFont(self.font())
        font.setBold(True)
        font.setPointSizeF(max(8.0, scaled.width() / 48))
        p.setFont(font)
        fm = p.fontMetrics()
        h = fm.height() + 8
        p.fillRect(0, scaled.height() - h, scaled.width(), h, QColor(0, 0, 0, 170))
        p.setPen(QPen(QColor("#ffcc80")))
        p.drawText(0, scaled.height() - h, scaled.width(), h, Qt.AlignmentFlag.AlignCenter, self.badge)
        p.end()
        self.setPixmap(marked)


class CompositePanel(JobPage):
    """Composite set of the selected run, view switching, sliders, ancestry/skin, save version."""

    composites_changed = Signal()
    composite_shown = Signal(object)
    status_message = Signal(str)
    preview_shown = Signal(dict)  # the changes the shown preview was rendered with

    def __init__(self, ctx: Any, runner: JobRunner, reporter: ErrorReporter, parent: QWidget | None = None) -> None:
        super().__init__(ctx, runner, reporter, parent)
        self.run: AnalysisRun | None = None
        self.closed = False
        self.composites: list[Composite] = []
        self.current: Composite | None = None
        self.view_name = ""
        self.sliders: dict[str, tuple[QSlider, QLabel, Any]] = {}
        self.previewing: dict[str, Any] = {}
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self._request_preview)

        self.ancestry = QComboBox()
        self.ancestry.setObjectName("ancestryCombo")
        self.ancestry.setToolTip("Ancestry mix of the head model for new sets: an illustrative choice, never "
                                 "estimated from the voice")
        self.skin = QComboBox()
        self.skin.setObjectName("skinCombo")
        self.skin.setToolTip("Skin tone for new sets: an illustrative choice, never estimated from the voice")
        #: Views rendered for a new set (tests may render fewer to save time).
        self.views: tuple[str, ...] = tuple(_svc().VIEWS)

        # left: the set
        self.run_label = QLabel("No analysis run selected")
        self.run_label.setWordWrap(True)
        self.list = QListWidget()
        self.list.setObjectName("compositeList")
        self.list.setToolTip("The composites of the run: the primary, the age-range ends, and analyst versions")
        self.list.setWordWrap(True)
        self.list.setSpacing(3)
        self.list.currentRowChanged.connect(self._row_changed)
        self.create_btn = QPushButton("Create composites")
        self.create_btn.setObjectName("createComposites")
        self.create_btn.setToolTip("Render the composite set for the selected analysis run")
        self.create_btn.clicked.connect(self.create_set)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFormat("idle")
        self.progress.setToolTip("Progress of the running render")
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setToolTip("Stop rendering (nothing is stored)")
        self.cancel_btn.setEnabled(False)
        self.cancel_btn.clicked.connect(lambda: self.runner.cancel("composite"))
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(QLabel("<b>Composite set</b>"))
        ll.addWidget(self.run_label)
        ll.addWidget(self.list, 1)
        look = QGroupBox("Appearance for new sets (illustrative)")
        lf = QFormLayout(look)
        lf.addRow("Ancestry", self.ancestry)
        lf.addRow("Skin tone", self.skin)
        ll.addWidget(look)
        row = QHBoxLayout()
        row.addWidget(self.create_btn)
        row.addWidget(self.cancel_btn)
        ll.addLayout(row)
        ll.addWidget(self.progress)

        # centre: image + view switcher
        self.image = ImageView()
        self.image.setObjectName("compositeImage")
        self.view_bar = QHBoxLayout()
        self.view_group = QButtonGroup(self)
        self.view_group.setExclusive(True)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        centre = QWidget()
        cl = QVBoxLayout(centre)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addLayout(self.view_bar)
        cl.addWidget(self.image, 1)
        self.export_btn = QPushButton("Export image…")
        self.export_btn.setObjectName("exportCompositeImage")
        self.export_btn.setToolTip(EXPORT_TIP)
        self.export_btn.setEnabled(False)
        self.export_btn.clicked.connect(lambda: self.export_image())
        cap_row = QHBoxLayout()
        cap_row.addWidget(self.caption, 1)
        cap_row.addWidget(self.export_btn)
        cl.addLayout(cap_row)

        # right: traits, illustrative list, sliders
        self.traits_box = QLabel()
        self.traits_box.setWordWrap(True)
        self.traits_box.setTextFormat(Qt.TextFormat.RichText)
        self.illustrative = QLabel(ILLUSTRATIVE_NOTE)
        self.illustrative.setObjectName("illustrativeNote")
        self.illustrative.setWordWrap(True)
        self.illustrative.setStyleSheet("background:#fff3e0; color:#6d4c00; border:1px solid #ffb74d; padding:6px;")
        self.slider_box = QWidget()
        self.slider_grid = QGridLayout(self.slider_box)
        self.slider_grid.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.slider_box)
        self.reset_btn = QPushButton("Reset all")
        self.reset_btn.setToolTip("Put every slider back to the shown composite's values")
        self.reset_btn.clicked.connect(self.reset_sliders)
        self.save_btn = QPushButton("Save version")
        self.save_btn.setObjectName("saveVersion")
        self.save_btn.setToolTip("Store the previewed changes as a new version (the shown composite is kept)")
        self.save_btn.clicked.connect(self.save_version)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.traits_box)
        rl.addWidget(self.illustrative)
        adj = QGroupBox("Analyst adjustments")
        al = QVBoxLayout(adj)
        al.addWidget(scroll, 1)
        btns = QHBoxLayout()
        btns.addWidget(self.reset_btn)
        btns.addStretch(1)
        btns.addWidget(self.save_btn)
        al.addLayout(btns)
        rl.addWidget(adj, 1)

        split_page(self, (left, centre, right), stretch=(2, 5, 3), sizes=(300, 760, 480))
        self._build_controls()
        self.set_run(None)

    # ------------------------------------------------------------------ controls
    def _build_controls(self) -> None:
        svc = _svc()
        for combo, choices, default in ((self.ancestry, svc.ANCESTRY_CHOICES, svc.DEFAULT_ANCESTRY),
                                        (self.skin, svc.SKIN_TONE_CHOICES, svc.DEFAULT_SKIN_TONE)):
            for key in choices:
                combo.addItem(str(key).replace("_", " ").replace("-", " "), key)
            combo.setCurrentIndex(max(0, combo.findData(default)))
        row, group = 0, None
        for adj in svc.list_adjustments():
            if adj.group != group:
                group = adj.group
                head = QLabel(f"<b>{html.escape(str(group).capitalize())}</b>")
                self.slider_grid.addWidget(head, row, 0, 1, 4)
                row += 1
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(0, SLIDER_STEPS)
            slider.setObjectName(f"slider_{adj.name}")
            slider.setToolTip(f"{adj.label}: an analyst adjustment (illustrative); the face re-renders as a "
                              "preview when you stop moving it")
            value_label = QLabel()
            value_label.setMinimumWidth(48)
            reset = QToolButton()
            reset.setText("↺")
            reset.setToolTip(f"Reset {adj.label}")
            reset.clicked.connect(lambda _=False, n=adj.name: self.reset_slider(n))
            slider.valueChanged.connect(lambda _v, n=adj.name: self._slider_moved(n))
            self.slider_grid.addWidget(QLabel(adj.label), row, 0)
            self.slider_grid.addWidget(slider, row, 1)
            self.slider_grid.addWidget(value_label, row, 2)
            self.slider_grid.addWidget(reset, row, 3)
            self.sliders[adj.name] = (slider, value_label, adj)
            row += 1
        self.slider_grid.setColumnStretch(1, 1)

    def _to_pos(self, adj: Any, value: float) -> int:
        span = float(adj.maximum) - float(adj.minimum)
        return int(round((float(value) - float(adj.minimum)) / span * SLIDER_STEPS)) if span else 0

    def _to_value(self, adj: Any, pos: int) -> float:
        return float(adj.minimum) + (float(adj.maximum) - float(adj.minimum)) * pos / SLIDER_STEPS

    def base_value(self, name: str) -> float:
        """What a slider resets to: the shown composite's value, else the adjustment's default."""
        adj = self.sliders[name][2]
        if self.current is not None:
            v = param_value(self.current, f"adjust.{name}")
            if isinstance(v, (int, float)):
                return float(v)
        return float(adj.default)

    def slider_value(self, name: str) -> float:
        """Current value of a slider in parameter units."""
        slider, _, adj = self.sliders[name]
        return self._to_value(adj, slider.value())

    def set_slider_value(self, name: str, value: float) -> None:
        """Move a slider (parameter units)."""
        slider, _, adj = self.sliders[name]
        slider.setValue(self._to_pos(adj, value))

    def _slider_moved(self, name: str) -> None:
        slider, label, adj = self.sliders[name]
        value = self._to_value(adj, slider.value())
        changed = abs(value - self.base_value(name)) > (float(adj.maximum) - float(adj.minimum)) / SLIDER_STEPS
        label.setText(f"{value:.2f}" + (" *" if changed else ""))
        label.setStyleSheet("color:#e65100; font-weight:bold;" if changed else "")
        self._schedule_preview()

    # ------------------------------------------------------------------ live preview
    def _schedule_preview(self) -> None:
        """Re-render the shown view shortly after the sliders stop moving (or show the stored image)."""
        if self.current is None:
            return
        if self.changes():
            # An export is of a stored version; with unsaved changes on screen it would not be what is shown.
            self.export_btn.setEnabled(False)
            self.export_btn.setToolTip(EXPORT_UNSAVED_TIP)
            self._preview_timer.start()
        elif self.previewing:
            self._preview_timer.stop()
            self.runner.cancel("composite-preview")
            self.previewing = {}
            self.image.badge = "ILLUSTRATIVE COMPOSITE — NOT A LIKENESS"
            self.show_view(self.view_name)

    def _request_preview(self) -> None:
        comp, changes = self.current, self.changes()
        if comp is None or not changes:
            return
        view = self.view_name if self.view_name in _svc().VIEWS else "front"

        def done(png: bytes) -> None:
            if self.current is None or self.current.id != comp.id or self.changes() != changes:
                return  # the analyst moved on; a newer preview is coming
            pix = QPixmap()
            pix.loadFromData(png, "PNG")
            self.previewing = dict(changes)
            self.image.badge = PREVIEW_BADGE
            self.image.set_image(pix, "preview failed")
            self.caption.setText("<small><b>Preview of unsaved changes</b> (" + html.escape(
                ", ".join(f"{self.sliders[n][2].label} {v:.2f}" for n, v in changes.items())) +
                "). Press <b>Save version</b> to record them as a new version.</small>")
            self.preview_shown.emit(dict(changes))

        self.runner.submit("composite-preview",
                           lambda task: _svc().preview_composite(self.ctx, comp.id, changes, view=view,
                                                                 size=PREVIEW_SIZE, task=task),
                           on_success=done, on_error=lambda e: self.reporter.report(e, "Preview"))

    def reset_slider(self, name: str) -> None:
        """Put one slider back to the shown composite's value."""
        self.set_slider_value(name, self.base_value(name))
        self._slider_moved(name)

    def reset_sliders(self) -> None:
        """Put every slider and the appearance choices back."""
        for name in self.sliders:
            self.reset_slider(name)

    def changes(self) -> dict[str, Any]:
        """Analyst changes relative to the shown composite."""
        out: dict[str, Any] = {}
        for name, (slider, _, adj) in self.sliders.items():
            value = self._to_value(adj, slider.value())
            if abs(value - self.base_value(name)) > (float(adj.maximum) - float(adj.minimum)) / SLIDER_STEPS:
                out[name] = round(value, 4)
        return out

    # ------------------------------------------------------------------ data
    def set_run(self, run: AnalysisRun | None, closed: bool = False) -> None:
        """Show the composites of a run."""
        self.run = run
        self.closed = closed
        self.refresh()

    def refresh(self, select_id: int | None = None) -> None:
        """Reload the composite list from the store."""
        busy = self.runner.current("composite") is not None
        if self.run is None:
            self.composites = []
            self.run_label.setText("Run an analysis first; composites are made from an analysis run.")
        else:
            self.composites = _svc().list_composites(self.ctx, self.run.id)
            self.run_label.setText(f"From analysis run #{self.run.id} ({self.run.created_at:%Y-%m-%d %H:%M})")
        self._enable_create(not busy)
        self._enable_versions(not busy)
        self.list.blockSignals(True)
        self.list.clear()
        row = -1
        for i, comp in enumerate(self.composites):
            text = f"v{comp.version} · {comp.label or comp.kind}"
            item = QListWidgetItem(text)
            item.setToolTip(f"kind {comp.kind}, id {comp.id}" + (f", derived from #{comp.parent_id}" if comp.parent_id
                                                                   else ""))
            self.list.addItem(item)
            if comp.id == select_id:
                row = i
        self.list.blockSignals(False)
        if self.composites:
            self.list.setCurrentRow(row if row >= 0 else 0)
            self._row_changed(self.list.currentRow())
        else:
            self.current = None
            self.export_btn.setEnabled(False)
            self.image.set_image(None, "No composites yet — press “Create composites”." if self.run else "No run")
            self.caption.clear()
            self.traits_box.setText(self._traits_text())
            self._rebuild_view_buttons([])
            self.reset_sliders()
        self.composites_changed.emit()

    def _enable_versions(self, idle: bool) -> None:
        """Sliders and "Save version" only with a composite to change (they did nothing before one existed, and
        creating the set then reset what had been moved)."""
        have = self.run is not None and not self.closed and bool(self.composites)
        self.save_btn.setEnabled(idle and have)
        self.slider_box.setEnabled(have)
        self.slider_box.setToolTip("" if have else "Create composites first: the sliders change a composite")

    def _enable_create(self, idle: bool) -> None:
        """"Create composites" only for a run whose traits are findings (the service refuses the rest)."""
        gate = self.run.results.pooled.traits.gate_reason if self.run is not None else ""
        self.create_btn.setEnabled(self.run is not None and idle and not self.closed and not gate)
        self.create_btn.setToolTip(f"No composites: this run abstained on sex and age ({gate})" if gate else
                                   "Render the composite set for the selected analysis run")

    def _traits_text(self) -> str:
        if self.run is None:
            return ""
        t = self.run.results.pooled.traits
        if t.gate_reason:
            return f"<b>From the voice:</b> nothing: sex and age abstained ({html.escape(t.gate_reason)})"
        age = (f"age <b>{html.escape(t.age.label)}</b>, " if t.age.label != INCONCLUSIVE else "age ") + \
            (f"median {t.age.median_years:.0f} y, 80 % {t.age.interval_80[0]:.0f}–{t.age.interval_80[1]:.0f} y"
             + (" (no band stated)" if t.age.label == INCONCLUSIVE else ""))
        return (f"<b>From the voice:</b> sex <b>{html.escape(t.sex.label)}</b> "
                f"(P(male) {fmt_probability(t.sex.p_male)}), {age}")

    def _rebuild_view_buttons(self, views: list[str]) -> None:
        for b in list(self.view_group.buttons()):
            self.view_group.removeButton(b)
            b.deleteLater()
        while self.view_bar.count():
            item = self.view_bar.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.view_bar.addWidget(QLabel("View:"))
        for v in views:
            b = QToolButton()
            b.setText(v.replace("_", " "))
            b.setCheckable(True)
            b.setObjectName(f"view_{v}")
            b.setToolTip(f"Show the {v.replace('_', ' ')} view")
            b.clicked.connect(lambda _=False, name=v: self.show_view(name))
            self.view_group.addButton(b)
            self.view_bar.addWidget(b)
            if v == self.view_name:
                b.setChecked(True)
        self.view_bar.addStretch(1)

    def _row_changed(self, row: int) -> None:
        if not (0 <= row < len(self.composites)):
            return
        comp = self.composites[row]
        self.current = comp
        views = list(comp.images)
        if self.view_name not in views:
            self.view_name = views[0] if views else ""
        self._rebuild_view_buttons(views)
        self.previewing = {}
        self.image.badge = "ILLUSTRATIVE COMPOSITE — NOT A LIKENESS"
        self.show_view(self.view_name)
        self.reset_sliders()

        def names(pred: Any) -> list[str]:
            return sorted(n for n, p in comp.parameters.items() if pred(n, p))

        # One list per stored origin, so no parameter is in two lists: estimated from the voice,
        # illustrative but chosen from the voice's estimate (e.g. build for the depicted sex),
        # and illustrative defaults or choices.
        voice = names(lambda n, p: p.origin is Origin.VOICE and not p.illustrative)
        voice_illustrative = names(lambda n, p: p.origin is Origin.VOICE and p.illustrative)
        analyst = names(lambda n, p: p.origin is Origin.ANALYST and n.startswith("adjust."))
        illustrative = names(lambda n, p: p.illustrative and p.origin is not Origin.VOICE)
        text = self._traits_text()
        text += f"<br><small>Composite “{html.escape(comp.label or comp.kind)}”, version {comp.version}</small>"
        text += f"<br><small><b>From the voice:</b> {html.escape(', '.join(voice) or 'none')}</small>"
        if voice_illustrative:
            text += ("<br><small><b>Illustrative, typical for the estimated sex/age:</b> "
                     f"{html.escape(', '.join(voice_illustrative))}</small>")
        if analyst:
            text += f"<br><small><b>Set by the analyst:</b> {html.escape(', '.join(analyst))}</small>"
        self.traits_box.setText(text)
        self.illustrative.setText(ILLUSTRATIVE_NOTE + (f"\nIllustrative parameters here: {', '.join(illustrative)}."
                                                       if illustrative else ""))
        self.composite_shown.emit(comp)

    def show_view(self, name: str) -> None:
        """Switch the image to another rendered view."""
        self.view_name = name
        for b in self.view_group.buttons():
            b.setChecked(b.objectName() == f"view_{name}")
        comp = self.current
        unsaved = bool(self.changes())
        self.export_btn.setEnabled(comp is not None and name in comp.images and not unsaved)
        self.export_btn.setToolTip(EXPORT_UNSAVED_TIP if unsaved else EXPORT_TIP)
        if comp is None or name not in comp.images:
            self.image.set_image(None, "No image")
            return
        if self.previewing and self.changes():
            self._preview_timer.start()  # another view of unsaved changes: preview that one
        svc = _svc()
        path = svc.composite_image_path(self.ctx, comp, name)
        # An inconclusive sex is never shown as one sex: both halves of the pair, female left.
        pair = [c for c in svc.sex_pair(comp, self.composites) if name in c.images]
        from s2f_desktop.services.evidence import check_composite_images

        # Shown only as recorded: a file replaced or altered since it was rendered could show anything (an
        # unmarked picture under this composite's name and hash); export refuses it too.
        checks = check_composite_images(self.ctx.store.layout.composites, pair)
        bad = {cid: st for (cid, view), st in checks.items() if view == name and st in ("ALTERED", "MISSING")}
        if bad:
            self.image.set_image(None, "; ".join(
                f"composite #{cid}: the {name} image is {st} since it was rendered (its sha256 differs from the "
                "recorded one): not shown. 's2f verify' names it." if st == "ALTERED" else
                f"composite #{cid}: the {name} image file is missing: not shown" for cid, st in bad.items()))
            self.caption.setText(f"<small>{html.escape(comp.label or comp.kind)} · {html.escape(name)} view · "
                                 "<b style='color:#b71c1c'>image not as recorded</b></small>")
            return
        if len(pair) == 2:
            pix = _side_by_side([QPixmap(str(svc.composite_image_path(self.ctx, c, name))) for c in pair])
        else:
            pair = [comp]
            pix = QPixmap(str(path))
        marked = all(_marking().is_marked(c.parameters) for c in pair)
        self.image.set_image(pix, f"image missing: {path}", marked=marked)
        both = (f" · sex inconclusive: shown with #{next(c.id for c in pair if c.id != comp.id)}"
                if len(pair) == 2 else "")
        self.caption.setText(f"<small>{html.escape(comp.label or comp.kind)} · {html.escape(name)} view · "
                             f"sha256 {html.escape(comp.image_sha256.get(name, '')[:16])}…{both}</small>")

    # ------------------------------------------------------------------ export
    def export_image(self, path: str | Path | None = None) -> Path | None:
        """Export the shown view as a marked PNG (asks for a file name when none is given).

        Never overwrites: an existing file is refused with a message (the dialog's own
        overwrite question is turned off so that it cannot be answered "yes"). Half of
        an inconclusive-sex pair is exported with its partner, side by side.
        """
        comp, view = self.current, self.view_name
        if comp is None or view not in comp.images:
            return None
        if path is None:
            default = f"composite-{comp.id}-{comp.kind}-{view}.png"
            path, _ = QFileDialog.getSaveFileName(self, "Export composite image", default, "PNG image (*.png)",
                                                  options=QFileDialog.Option.DontConfirmOverwrite)
            if not path:
                return None
        from s2f_desktop.core.errors import S2FError

        try:
            # A copy of one stored image plus an audit entry: short enough for the GUI thread.
            out: Path
            out, sha = _svc().export_composite_image(self.ctx, comp.id, view, Path(path), with_pair=True)
        except S2FError as exc:
            self.reporter.report(exc, "Export image")
            return None
        self.status_message.emit(f"Exported the marked {view} image of composite #{comp.id} to {out} "
                                 f"(sha256 {sha[:16]}…)")
        return out

    # ------------------------------------------------------------------ work
    def _busy(self, on: bool) -> None:
        self._enable_create(not on)
        self._enable_versions(not on)
        self.cancel_btn.setEnabled(on)
        if not on:
            self.progress.setRange(0, 1000)

    def _progress(self, frac: float, msg: str) -> None:
        show_progress(self.progress, frac, msg)

    def create_set(self) -> None:
        """Render the composite set for the run (worker)."""
        if self.run is None:
            return
        svc = _svc()
        run_id = self.run.id
        views = self.views
        ancestry, skin = self.ancestry.currentData(), self.skin.currentData()
        self._busy(True)
        self.runner.submit("composite", lambda task: svc.create_composite_set(self.ctx, run_id, views,
                                                                             ancestry=ancestry, skin=skin, task=task),
                           on_success=lambda comps: self._created(comps),
                           on_error=lambda e: self.reporter.report(e, "Composites"),
                           on_progress=self._progress, on_done=lambda: self._busy(False))

    def _created(self, comps: list[Composite]) -> None:
        self.progress.setValue(1000)
        self.progress.setFormat("done")
        self.refresh(select_id=comps[0].id if comps else None)
        self.status_message.emit(f"{len(comps)} composite(s) rendered")

    def save_version(self) -> None:
        """Render a new version of the shown composite with the analyst's changes (worker)."""
        from s2f_desktop.core.errors import InputError

        comp = self.current
        if comp is None:
            return
        changes = self.changes()
        if not changes:
            self.reporter.report(InputError("move a slider or choose an appearance before saving a version"))
            return
        def saved(c: Composite) -> None:
            self.refresh(select_id=c.id)
            self.status_message.emit(f"Saved version {c.version} of {c.label}")

        self._busy(True)
        self.runner.submit("composite", lambda task: _svc().adjust_composite(self.ctx, comp.id, changes, task=task),
                           on_success=saved,
                           on_error=lambda e: self.reporter.report(e, "Save version"),
                           on_progress=self._progress, on_done=lambda: self._busy(False))
