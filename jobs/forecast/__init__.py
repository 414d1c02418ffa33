"""Demand forecasts for prospective productions (films and series).

Plain pandas/numpy/scipy: importable in a notebook without Spark.

    from slatehouse import forecast
    model = forecast.fit(history, target="views_28d")
    result = model.predict(forecast.load_slate("slate.csv"))
    print(forecast.format_forecast(result))
    forecast.backtest(history, "views_28d", ["2023-01-01", "2023-07-01"])

The method, its calibration and its leakage rules are in docs/forecasting.md.
"""

from .backtest import BACKTEST_COLUMNS, OUTCOME_DAYS, backtest, backtest_predictions, summarise_backtest
from .inputs import AVAILABILITY, ForecastInputError, history_from_training_mart, load_pitch, load_slate, normalise_titles
from .model import EXPLANATION_COLUMNS, PREDICTION_COLUMNS, DemandModel, Hyperparameters, fit
from .report import format_forecast, format_number

__all__ = [
    "AVAILABILITY",
    "BACKTEST_COLUMNS",
    "EXPLANATION_COLUMNS",
    "OUTCOME_DAYS",
    "PREDICTION_COLUMNS",
    "DemandModel",
    "ForecastInputError",
    "Hyperparameters",
    "backtest",
    "backtest_predictions",
    "fit",
    "format_forecast",
    "format_number",
    "history_from_training_mart",
    "load_pitch",
    "load_slate",
    "normalise_titles",
    "summarise_backtest",
]
