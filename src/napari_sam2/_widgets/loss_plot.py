"""A small, dependency-free live plot of a fine-tuning run (QPainter only).

Two panels share the step axis: the training loss (each step, and a moving average
once there are enough steps) and the validation IoU in [0, 1] (one-click and tracking,
one dot per validation). napari has no plotting widget and the plugin does not depend
on matplotlib; this draws a few polylines and is repainted when progress arrives.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from qtpy.QtCore import QPointF, QRectF, Qt
from qtpy.QtGui import QColor, QPainter, QPainterPath, QPen
from qtpy.QtWidgets import QSizePolicy, QWidget

from napari_sam2.features.finetuning.progress_text import TrainingCurves

LOSS = QColor(240, 160, 60)
LOSS_RAW = QColor(240, 160, 60, 90)
ONE_CLICK = QColor(80, 200, 120)
TRACKING = QColor(90, 160, 255)
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 46, 8, 16, 18


def moving_average(values: Sequence[float], window: int) -> np.ndarray:
    """Trailing mean over up to ``window`` values (same length as ``values``)."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0 or window <= 1:
        return arr
    cumsum = np.concatenate([[0.0], np.cumsum(arr)])
    idx = np.arange(1, arr.size + 1)
    start = np.maximum(idx - window, 0)
    return (cumsum[idx] - cumsum[start]) / (idx - start)


class LossPlot(QWidget):
    """Training loss and validation IoU against the step."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.curves = TrainingCurves()
        self.max_steps = 1
        self.setMinimumHeight(110)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setToolTip(
            "top: training loss per step (faint) and its moving average (log scale when "
            "it spans more than a factor 20); bottom: "
            "validation IoU after each validation (one click per object, and tracking "
            "through clips); higher is better"
        )

    def set_curves(self, curves: TrainingCurves, max_steps: int) -> None:
        """Show ``curves`` on a step axis from 0 to ``max_steps`` (repaints soon)."""
        self.curves = curves
        self.max_steps = max(int(max_steps), 1)
        self.update()

    # ------------------------------------------------------------------ painting
    def paintEvent(self, event: object) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing)
        text = self.palette().color(self.foregroundRole())
        height = self.height()
        split = int(height * 0.58)
        top = QRectF(MARGIN_LEFT, MARGIN_TOP, self._plot_width(), split - MARGIN_TOP - 18)
        bottom = QRectF(
            MARGIN_LEFT,
            split + MARGIN_TOP,
            self._plot_width(),
            height - split - MARGIN_TOP - MARGIN_BOTTOM,
        )
        self._draw_loss(painter, top, text)
        self._draw_iou(painter, bottom, text)
        painter.end()

    def _plot_width(self) -> float:
        return max(self.width() - MARGIN_LEFT - MARGIN_RIGHT, 10)

    def _frame(self, painter: QPainter, rect: QRectF, text: QColor, title: str) -> None:
        faint = QColor(text)
        faint.setAlpha(90)
        painter.setPen(QPen(faint, 1))
        painter.drawRect(rect)
        painter.setPen(text)
        painter.drawText(QPointF(rect.left(), rect.top() - 4), title)
        painter.drawText(
            QRectF(rect.left(), rect.bottom() + 1, rect.width(), MARGIN_BOTTOM),
            int(Qt.AlignRight | Qt.AlignTop),
            f"step {self.max_steps}",
        )
        painter.drawText(
            QRectF(rect.left(), rect.bottom() + 1, rect.width(), MARGIN_BOTTOM),
            int(Qt.AlignLeft | Qt.AlignTop),
            "0",
        )

    def _y_labels(
        self, painter: QPainter, rect: QRectF, low: float, high: float, log: bool = False
    ) -> None:
        for value, y in ((high, rect.top()), (low, rect.bottom())):
            painter.drawText(
                QRectF(0, y - 8, MARGIN_LEFT - 4, 16),
                int(Qt.AlignRight | Qt.AlignVCenter),
                f"{10**value if log else value:.3g}",
            )

    def _point(self, rect: QRectF, x: float, y: float, low: float, high: float) -> QPointF:
        span = max(high - low, 1e-12)
        return QPointF(
            rect.left() + rect.width() * min(x / self.max_steps, 1.0),
            rect.bottom() - rect.height() * (y - low) / span,
        )

    def _path(
        self, rect: QRectF, xs: Sequence[float], ys: Sequence[float], low: float, high: float
    ) -> QPainterPath:
        path = QPainterPath()
        for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
            point = self._point(rect, x, y, low, high)
            if i == 0:
                path.moveTo(point)
            else:
                path.lineTo(point)
        return path

    def _draw_loss(self, painter: QPainter, rect: QRectF, text: QColor) -> None:
        c = self.curves
        last = f" (last {c.loss[-1]:.4g})" if c.loss else ""
        values = np.asarray(c.loss, dtype=float)
        log = bool(values.size and values.min() > 0 and values.max() / values.min() > 20)
        scale = ", log scale" if log else ""
        self._frame(painter, rect, text, f"training loss{last}{scale}")
        if not values.size:
            painter.drawText(rect, int(Qt.AlignCenter), "waiting for the first step…")
            return
        ys = np.log10(values) if log else values
        low, high = float(ys.min()), float(ys.max())
        if high - low < 1e-9:
            low, high = low - 0.5, high + 0.5
        self._y_labels(painter, rect, low, high, log)
        if values.size == 1:
            painter.setPen(QPen(LOSS, 6, Qt.SolidLine, Qt.RoundCap))
            painter.drawPoint(self._point(rect, c.steps[0], float(ys[0]), low, high))
            return
        painter.setPen(QPen(LOSS_RAW, 1))
        painter.drawPath(self._path(rect, c.steps, ys.tolist(), low, high))
        window = max(values.size // 20, 1)
        if window > 1:
            smooth = moving_average(values, window)
            smooth = np.log10(smooth) if log else smooth
            painter.setPen(QPen(LOSS, 2))
            painter.drawPath(self._path(rect, c.steps, smooth.tolist(), low, high))

    def _draw_iou(self, painter: QPainter, rect: QRectF, text: QColor) -> None:
        c = self.curves
        self._frame(painter, rect, text, "validation IoU")
        self._y_labels(painter, rect, 0.0, 1.0)
        legend_x = rect.left() + 110
        for i, (label, colour) in enumerate((("one-click", ONE_CLICK), ("tracking", TRACKING))):
            painter.setPen(QPen(colour, 2))
            x = legend_x + i * 90
            painter.drawLine(QPointF(x, rect.top() - 8), QPointF(x + 14, rect.top() - 8))
            painter.setPen(text)
            painter.drawText(QPointF(x + 18, rect.top() - 4), label)
        if not c.val_steps:
            painter.drawText(rect, int(Qt.AlignCenter), "no validation yet")
            return
        for values, colour in ((c.one_click, ONE_CLICK), (c.tracking, TRACKING)):
            pts = [(s, v) for s, v in zip(c.val_steps, values, strict=True) if v is not None]
            if not pts:
                continue
            xs, ys = zip(*pts, strict=True)
            path = self._path(rect, xs, ys, 0.0, 1.0)
            painter.setPen(QPen(colour, 2))
            painter.drawPath(path)
            painter.setPen(QPen(colour, 6, Qt.SolidLine, Qt.RoundCap))
            for x, y in pts:
                painter.drawPoint(self._point(rect, x, y, 0.0, 1.0))
