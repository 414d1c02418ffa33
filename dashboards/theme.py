"""Colours, the Plotly template and the page CSS: one look for the app and the reports."""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

INK = "#1f2a37"
MUTED = "#6b7785"
GRID = "#e6e9ee"
BACKGROUND = "#f5f6f8"
PRIMARY = "#27496d"  # slate blue: the main series
ACCENT = "#e07a5f"  # coral: the comparison (median, demand, the bar to clear)
GOOD = "#3d8b6e"
SUPPRESSED = "#b8bfc9"
PALETTE = ["#27496d", "#e07a5f", "#3d8b6e", "#f2b134", "#7b6ca8", "#4fa3c7", "#c4607a",
           "#8c9a5b", "#a0705a", "#5c6f82"]
FONT = "Inter, 'Helvetica Neue', Arial, sans-serif"

TEMPLATE = "slatehouse"

pio.templates[TEMPLATE] = go.layout.Template(
    layout=go.Layout(
        font=dict(family=FONT, size=13, color=INK),
        colorway=PALETTE,
        paper_bgcolor="white",
        plot_bgcolor="white",
        margin=dict(l=56, r=24, t=84, b=48),
        title=dict(font=dict(size=15, color=INK), x=0.0, xanchor="left", y=0.98, yanchor="top"),
        xaxis=dict(gridcolor=GRID, zerolinecolor=GRID, linecolor=GRID, ticks=""),
        yaxis=dict(gridcolor=GRID, zerolinecolor=GRID, linecolor=GRID, ticks=""),
        legend=dict(orientation="h", yanchor="bottom", y=1.01, xanchor="left", x=0.0),
        hoverlabel=dict(font=dict(family=FONT)),
        bargap=0.25,
    )
)

CSS = f"""
* {{ box-sizing: border-box; }}
body {{ margin: 0; background: {BACKGROUND}; color: {INK}; font-family: {FONT}; font-size: 14px; }}
a {{ color: {PRIMARY}; }}
.navbar {{ display: flex; align-items: center; gap: 4px; padding: 0 24px; height: 52px;
          background: {INK}; position: sticky; top: 0; z-index: 10; }}
.navbar .brand {{ color: white; font-weight: 700; font-size: 17px; margin-right: 24px;
                 letter-spacing: .3px; text-decoration: none; }}
.navbar .nav-link {{ color: #c9d1db; text-decoration: none; padding: 8px 12px; border-radius: 6px; }}
.navbar .nav-link:hover {{ color: white; background: rgba(255,255,255,.08); }}
.navbar .nav-link.active {{ color: white; background: rgba(255,255,255,.14); }}
.navbar .spacer {{ flex: 1; }}
.navbar .status {{ color: #9aa5b1; font-size: 12px; }}
.page {{ max-width: 1280px; margin: 0 auto; padding: 20px 24px 48px; }}
.page h1 {{ font-size: 22px; margin: 4px 0 2px; }}
.page .lede {{ color: {MUTED}; margin: 0 0 16px; }}
.controls {{ display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-end; margin-bottom: 16px; }}
.control {{ min-width: 200px; }}
.control.wide {{ min-width: 380px; flex: 1; }}
/* A control's caption is its direct child <label>; the child combinator keeps the style off the
   labels Dash renders inside the component (dropdown options, radio and checklist items). */
.control > label, .field > label {{ display: block; font-size: 12px; color: {MUTED}; margin-bottom: 4px;
                                    text-transform: uppercase; letter-spacing: .4px; }}
.grid {{ display: grid; gap: 16px; }}
.grid.two {{ grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); }}
.grid.three {{ grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); }}
.card {{ background: white; border: 1px solid {GRID}; border-radius: 10px; padding: 16px;
         box-shadow: 0 1px 2px rgba(16,24,40,.04); min-width: 0; }}
.card h3 {{ font-size: 15px; margin: 0 0 10px; }}
.kpis {{ display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 16px; }}
.kpi {{ background: white; border: 1px solid {GRID}; border-radius: 10px; padding: 10px 16px; min-width: 150px; }}
.kpi .label {{ font-size: 12px; color: {MUTED}; text-transform: uppercase; letter-spacing: .4px; }}
.kpi .value {{ font-size: 20px; font-weight: 600; margin-top: 2px; }}
.kpi .sub {{ font-size: 12px; color: {MUTED}; }}
table.data {{ width: 100%; border-collapse: collapse; font-size: 13px; }}
table.data th {{ text-align: left; font-weight: 600; color: {MUTED}; font-size: 12px; padding: 6px 8px;
                border-bottom: 1px solid {GRID}; }}
table.data td {{ padding: 6px 8px; border-bottom: 1px solid #f0f2f5; }}
table.data td.num, table.data th.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.suppressed {{ color: #8a94a1; font-style: italic; }}
.move-up {{ color: {GOOD}; font-weight: 600; }}
.move-down {{ color: {ACCENT}; font-weight: 600; }}
.move-new {{ color: {PRIMARY}; font-weight: 600; }}
.note {{ color: {MUTED}; font-size: 12px; margin-top: 8px; }}
.callout {{ border-left: 4px solid {ACCENT}; background: #fff7f4; padding: 10px 14px; border-radius: 6px;
            margin: 8px 0 12px; }}
.empty {{ color: {MUTED}; padding: 24px; text-align: center; }}
.form {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 12px 16px; }}
.form .field.wide {{ grid-column: 1 / -1; }}
.button {{ background: {PRIMARY}; color: white; border: 0; border-radius: 6px; padding: 9px 18px;
           font: inherit; font-weight: 600; cursor: pointer; }}
.button:hover {{ filter: brightness(1.1); }}
.forecast-number {{ font-size: 34px; font-weight: 700; color: {PRIMARY}; }}
.footer {{ color: {MUTED}; font-size: 12px; margin-top: 24px; }}
"""
