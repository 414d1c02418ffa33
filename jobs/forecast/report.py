"""Terminal output for forecasts."""

from __future__ import annotations

import math

import pandas as pd

from .features import scale_for


def format_number(value: float, target: str) -> str:
    """A proportion target (by name, as the model scales it) as a percentage; a count as
    a number, however small (0.71 views is not 71 %)."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if scale_for(target).target_kind == "proportion":
        return f"{value:.1%}"
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def format_forecast(result: pd.DataFrame, *, max_explanation: int = 8) -> str:
    """Human-readable text for the output of `DemandModel.predict`: one block per pitch."""
    blocks = []
    for _, row in result.iterrows():
        target = row.get("target", "target")
        lines = [
            f"{row['title_id']}: {target} forecast {format_number(row['point'], target)} "
            f"(80% interval {format_number(row['p10'], target)} to {format_number(row['p90'], target)})",
            f"  talent with a track record: {row['n_known_talent']} of {row['n_talent']}",
        ]
        unseen = row.get("unseen")
        if unseen is not None and len(unseen):
            lines.append(f"  not in the training history, so no effect (a typo?): {', '.join(unseen)}")
        held = row.get("held_to_range")
        if held is not None and len(held):
            lines.append(f"  beyond every past title, so held at the nearest: {'; '.join(held)}")
        explanation = row.get("explanation") or []
        if explanation:
            shown, rest = explanation[: max_explanation + 1], explanation[max_explanation + 1:]
            terms = [(item["contribution"], item["component"], item["feature"]) for item in shown]
            if rest:
                terms.append((sum(item["contribution"] for item in rest), "other",
                              f"{len(rest)} smaller term{'s' if len(rest) > 1 else ''}"))
            width = max(len(component) for _, component, _ in terms)
            lines.append("  why (additive on the model scale; + raises the forecast):")
            for contribution, component, feature in terms:
                # A numeric term (episodes, trend, ...) is its own feature: name it once.
                label = component if feature == component else f"{component:<{width}} {feature}"
                lines.append(f"    {contribution:+7.3f}  {label}")
        comparables = row.get("comparables") or []
        if comparables:
            lines.append("  most comparable past titles:")
            for item in comparables:
                actual = "suppressed (a small audience)" if item.get("suppressed") else \
                    format_number(item["actual"], target)
                lines.append(
                    f"    {item['title_id']:<14} released {item['release_date']}  "
                    f"similarity {item['similarity']:.2f}  actual {actual}"
                )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
