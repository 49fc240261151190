"""Daily revenue forecast: log revenue = trend + day-of-week + month effects, fitted robustly.

The model is ordinary least squares on ``log1p(revenue)`` with a piecewise-linear trend
(changepoints every 180 days, none in the last 90, so the forecast extends the latest growth rate
rather than the average one) and one-hot day-of-week and month terms. Days whose residual is
more than 3.5 robust standard deviations out (planted or real anomalies) are dropped and the model
refitted once, so a spike does not bend the trend. Prediction intervals come from the residual
spread in log space.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import cast

import numpy as np
import polars as pl

from assets.core.storage import LakePath, atomic_write_bytes

Z80, Z95 = 1.2816, 1.9600
OUTLIER_Z = 3.5  # residuals beyond this are left out of the fit
ANOMALY_Z = 4.0  # and beyond this are reported as anomalies


CHANGEPOINT_DAYS = 180
CHANGEPOINT_MARGIN_DAYS = 90


def changepoints(n_days: int) -> list[float]:
    """Trend knots, in years from the origin, for a history of ``n_days``."""
    last = n_days - CHANGEPOINT_MARGIN_DAYS
    return [k / 365.25 for k in range(CHANGEPOINT_DAYS, last, CHANGEPOINT_DAYS)]


def _design(dates: pl.Series, origin: date, knots: list[float]) -> np.ndarray:
    frame = pl.DataFrame({"d": dates})
    t = ((frame["d"] - origin).dt.total_days() / 365.25).to_numpy()
    dow = frame["d"].dt.weekday().to_numpy()
    month = frame["d"].dt.month().to_numpy()
    cols = [np.ones(len(t)), t]
    cols += [np.maximum(t - k, 0.0) for k in knots]
    cols += [(dow == k).astype(float) for k in range(2, 8)]  # Monday is the base
    cols += [(month == m).astype(float) for m in range(2, 13)]  # January is the base
    return np.column_stack(cols)


@dataclass
class SeasonalModel:
    origin: date
    knots: list[float]
    coef: np.ndarray
    sigma: float
    dropped: list[date]

    def predict_log(self, dates: pl.Series) -> np.ndarray:
        return _design(dates, self.origin, self.knots) @ self.coef


def robust_sigma(residuals: np.ndarray) -> float:
    mad = np.median(np.abs(residuals - np.median(residuals)))
    return float(max(1.4826 * mad, 1e-9))


def fit_seasonal(daily: pl.DataFrame) -> SeasonalModel:
    dates = daily["date"]
    y = np.log1p(daily["revenue"].to_numpy().astype(float))
    origin = cast(date, dates.min())
    knots = changepoints(daily.height)
    coef, sigma, keep = robust_lstsq(_design(dates, origin, knots), y)
    dropped = [d for d, k in zip(dates.to_list(), keep, strict=True) if not k]
    return SeasonalModel(origin, knots, coef, sigma, dropped)


def robust_lstsq(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """OLS, then OLS again without the rows beyond ``OUTLIER_Z`` robust sigmas: (coefficients,
    residual standard deviation of the kept rows, which rows were kept)."""
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    keep = np.abs(resid - np.median(resid)) <= OUTLIER_Z * robust_sigma(resid)
    coef, *_ = np.linalg.lstsq(X[keep], y[keep], rcond=None)
    resid = y[keep] - X[keep] @ coef
    sigma = float(np.std(resid, ddof=X.shape[1]) if keep.sum() > X.shape[1] else np.std(resid))
    return coef, sigma, keep


def forecast(model: SeasonalModel, start: date, days: int) -> pl.DataFrame:
    dates = pl.Series("date", [start + timedelta(days=i) for i in range(days)])
    mu = model.predict_log(dates)
    s = model.sigma

    def back(x: np.ndarray) -> np.ndarray:
        return np.expm1(x).clip(0, None)

    return pl.DataFrame(
        {
            "date": dates,
            "horizon_day": np.arange(1, days + 1),
            "forecast": back(mu + s * s / 2),  # the mean of a log-normal, not its median
            "lower_80": back(mu - Z80 * s),
            "upper_80": back(mu + Z80 * s),
            "lower_95": back(mu - Z95 * s),
            "upper_95": back(mu + Z95 * s),
        }
    )


def backtest_mape(daily: pl.DataFrame, holdout_days: int = 60) -> tuple[float, pl.DataFrame]:
    """Fit on all but the last ``holdout_days`` and score the forecast of those days (MAPE)."""
    daily = daily.sort("date")
    train, test = daily.head(daily.height - holdout_days), daily.tail(holdout_days)
    model = fit_seasonal(train)
    pred = forecast(model, test["date"][0], holdout_days)
    joined = test.select("date", "revenue").join(pred.select("date", "forecast"), on="date")
    actual = joined["revenue"].to_numpy()
    mask = actual > 0
    ape = np.abs(joined["forecast"].to_numpy()[mask] - actual[mask]) / actual[mask]
    return float(ape.mean()), joined


def residual_anomalies(
    daily: pl.DataFrame, model: SeasonalModel, z: float = OUTLIER_Z
) -> pl.DataFrame:
    """Days whose log revenue is more than ``z`` robust std devs from the seasonal fit."""
    y = np.log1p(daily["revenue"].to_numpy().astype(float))
    resid = y - model.predict_log(daily["date"])
    robust = (resid - np.median(resid)) / robust_sigma(resid)
    return (
        daily.select("date", "revenue")
        .with_columns(
            pl.Series("expected_revenue", np.expm1(model.predict_log(daily["date"]))),
            pl.Series("robust_z", robust),
        )
        .filter(pl.col("robust_z").abs() > z)
    )


BACKTEST_RECORD = "backtest.json"


def write_backtest(table_dir: LakePath, mape: float, holdout_days: int) -> None:
    """Keep the backtest beside the forecast table (scans and DuckDB read only ``part-*``), so
    the reports quote the figure the forecast computed, unrounded, in any Dagster instance."""
    record = {"backtest_mape": mape, "holdout_days": holdout_days}
    atomic_write_bytes(table_dir / BACKTEST_RECORD, json.dumps(record).encode())


def read_backtest(table_dir: LakePath) -> float | None:
    """The forecast's backtest MAPE, or None for a forecast written without one."""
    path = table_dir / BACKTEST_RECORD
    return float(json.loads(path.read_text())["backtest_mape"]) if path.exists() else None
