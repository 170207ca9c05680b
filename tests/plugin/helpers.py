"""Small helpers shared by the plugin tests."""

import numpy as np


def centre_of(labels: np.ndarray, obj_id: int) -> tuple[float, float]:
    rows, cols = np.nonzero(labels == obj_id)
    return float(np.median(rows)), float(np.median(cols))
