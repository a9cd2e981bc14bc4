"""Statistics of 2-D samples that the toy figures report."""
import numpy as np

RADIUS_QUANTILE = 0.95


def total_variance(points: np.ndarray) -> float:
    """Trace of the sample covariance of points [n, 2]."""
    return float(np.trace(np.cov(points, rowvar=False)))


def radius(points: np.ndarray, centre: np.ndarray = np.zeros(2),
           quantile: float = RADIUS_QUANTILE) -> float:
    """Distance from `centre` [2] within which `quantile` of points [n, 2] lie."""
    return float(np.quantile(np.linalg.norm(points - centre, axis=1), quantile))


def correlation(points: np.ndarray) -> float:
    """Pearson correlation of the two coordinates of points [n, 2]."""
    return float(np.corrcoef(points[:, 0], points[:, 1])[0, 1])


def shares_near(points: np.ndarray, centres: np.ndarray, within: float) -> np.ndarray:
    """[modes] fraction of points [n, 2] within distance `within` of each of centres [modes, 2]."""
    distances = np.linalg.norm(points[:, None, :] - centres[None], axis=-1)  # [n, modes]
    return (distances <= within).mean(axis=0)
