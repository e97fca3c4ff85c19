"""One builder per chart: the frame from data.py in, a plotly figure and a one-line reading out.

A reading is written from the numbers of this warehouse (what an analyst would say on
looking at the chart), not a fixed caption. Builders never query: they take ReportData.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from loyalty.report.data import ReportData

BLUE, ORANGE, GREY, RED, GREEN = "#1f77b4", "#ff7f0e", "#7f7f7f", "#d62728", "#2ca02c"
LIFECYCLE_ORDER = ["new", "reactivated", "loyal", "repeat", "one_time", "at_risk", "churned"]
LIFECYCLE_COLOURS = {
    "new": "#17becf",
    "reactivated": "#9467bd",
    "loyal": GREEN,
    "repeat": BLUE,
    "one_time": "#bcbd22",
    "at_risk": ORANGE,
    "churned": GREY,
}
TIER_ORDER = ["high_value", "regular", "potential", "lapsed"]
MAX_CELL_LABELS = 400  # heatmaps print their values in the cells up to this many cells
P_ALIVE_FREQUENCY_CAP = 15
P_ALIVE_RECENCY_BINS = 12


@dataclass
class Chart:
    """One section of the report: a chart (figure) or a table (html), with its reading."""

    key: str
    title: str
    reading: str
    figure: go.Figure | None = None
    table_html: str | None = None
    missing: str | None = None  # the mart that is not built yet


def _pct(x: float | None) -> str:
    return "n/a" if x is None or pd.isna(x) else f"{x:.1%}"


def _money(x: float | None) -> str:
    if x is None or pd.isna(x):
        return "n/a"
    return f"{x:,.2f}" if abs(x) < 100 else f"{x:,.0f}"


def _day(value: object) -> str:
    """A date as YYYY-MM-DD (pandas gives DuckDB dates as midnight timestamps)."""
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date().isoformat()
    return str(value)


def _layout(fig: go.Figure, height: int = 420, **kwargs: object) -> go.Figure:
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin=dict(l=70, r=30, t=30, b=60),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
        **kwargs,
    )
    return fig


def _missing(key: str, title: str, table: str) -> Chart:
    return Chart(key, title, f"Not built yet: this warehouse has no {table}.", missing=table)


def cohort_heatmap(d: ReportData) -> Chart:
    title = "Cohort retention"
    if d.cohorts is None or d.cohorts.empty:
        return _missing("cohort_retention", title, "marts.rpt_cohort_retention_monthly")
    c = d.cohorts.copy()
    c["cohort"] = pd.to_datetime(c["cohort_month"]).dt.strftime("%Y-%m")
    grid = c.pivot(index="cohort", columns="months_since_first_purchase", values="retention_rate").sort_index()
    sizes = c.groupby("cohort")["cohort_size"].first().reindex(grid.index)
    z = grid.to_numpy(dtype=float) * 100
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(grid.columns),
            y=[f"{cohort} (n={size:,})" for cohort, size in sizes.items()],
            colorscale="Blues",
            zmin=0,
            zmax=100,
            colorbar=dict(title="% active", ticksuffix="%"),
            texttemplate="%{z:.0f}" if z.size <= MAX_CELL_LABELS else None,
            hovertemplate="cohort %{y}<br>month %{x}: %{z:.1f}% active<extra></extra>",
            xgap=1,
            ygap=1,
        )
    )
    _layout(
        fig,
        height=max(320, 22 * len(grid) + 120),
        xaxis=dict(title="months since first purchase", dtick=1 if grid.shape[1] <= 24 else 3),
        yaxis=dict(title="cohort (first purchase month)", autorange="reversed"),
    )
    m1 = c[c["months_since_first_purchase"] == 1]
    m12 = c[c["months_since_first_purchase"] == 12]
    reading = f"{len(grid)} monthly cohorts."
    if len(m1):
        weighted = (m1["retention_rate"] * m1["cohort_size"]).sum() / m1["cohort_size"].sum()
        reading = (
            f"Of {len(grid)} monthly cohorts, {weighted:.1%} of customers (weighted by cohort size) "
            "buy again in the month after their first purchase"
        )
        if len(m12):
            w12 = (m12["retention_rate"] * m12["cohort_size"]).sum() / m12["cohort_size"].sum()
            reading += f", and {w12:.1%} are active in month 12"
        reading += "."
    return Chart("cohort_retention", title, reading, figure=fig)


def retention_by_month(d: ReportData) -> Chart:
    title = "Retention and churn rate by month"
    if d.retention is None or d.retention.empty:
        return _missing("retention_monthly", title, "marts.rpt_retention_rate_monthly")
    r = d.retention[d.retention["customers_start"] > 0]
    if r.empty:
        return Chart(
            "retention_monthly",
            title,
            "No month has customers active at its start yet.",
            missing="months with active customers",
        )
    x = pd.to_datetime(r["activity_month"])
    fig = go.Figure()
    fig.add_scatter(
        x=x, y=r["retention_rate"], name="retention rate (ours: retained / start)", line=dict(color=BLUE, width=3)
    )
    fig.add_scatter(
        x=x, y=r["retention_rate_end_minus_new"], name="classic (end − new) / start", line=dict(color=BLUE, dash="dot")
    )
    fig.add_scatter(x=x, y=r["churn_rate"], name="churn rate (churned / start)", line=dict(color=RED, width=3))
    _layout(
        fig,
        yaxis=dict(title="share of customers active at the month's start", tickformat=".0%"),
        xaxis=dict(title="month", tickformat="%b %Y", dtick="M1" if len(r) <= 18 else "M3"),
        hovermode="x unified",
    )
    last = r.iloc[-1]
    gap = (r["retention_rate_end_minus_new"] - r["retention_rate"]).mean()
    reading = (
        f"In {pd.Timestamp(last['activity_month']):%B %Y}, {_pct(last['retention_rate'])} of the customers "
        f"active at the start of the month were still active at its end and {_pct(last['churn_rate'])} "
        f"churned; the classic formula reads {_pct(last['retention_rate_end_minus_new'])} because it "
        f"counts returning churned customers as retained ({gap * 100:+.1f} percentage points on average over "
        "all months)."
    )
    return Chart("retention_monthly", title, reading, figure=fig)


def lifecycle_over_time(d: ReportData) -> Chart:
    title = "Customers by lifecycle stage over time"
    if d.lifecycle is None or d.lifecycle.empty:
        return _missing("lifecycle", title, "snapshots.customer_status_snapshot")
    lc = d.lifecycle.copy()
    lc["status_date"] = pd.to_datetime(lc["status_date"]).dt.strftime("%Y-%m-%d")
    dates = sorted(lc["status_date"].unique())
    stages = [s for s in LIFECYCLE_ORDER if s in set(lc["lifecycle_stage"])]
    stages += sorted(set(lc["lifecycle_stage"]) - set(stages))
    fig = go.Figure()
    for stage in stages:
        part = lc[lc["lifecycle_stage"] == stage].set_index("status_date")["customers"].reindex(dates, fill_value=0)
        fig.add_bar(x=dates, y=part.to_numpy(), name=stage, marker_color=LIFECYCLE_COLOURS.get(stage, GREY))
    _layout(
        fig,
        barmode="stack",
        xaxis=dict(title="as-of date of the run (snapshot)", type="category"),
        yaxis=dict(title="customers"),
    )
    latest = lc[lc["status_date"] == dates[-1]].set_index("lifecycle_stage")["customers"]
    top = latest.sort_values(ascending=False)
    parts = ", ".join(f"{stage} {n:,}" for stage, n in top.items())
    history = (
        f"{len(dates)} as-of dates recorded"
        if len(dates) > 1
        else "one as-of date recorded so far; loyalty backfill records past ones"
    )
    reading = f"On {dates[-1]}: {parts} ({history})."
    return Chart("lifecycle", title, reading, figure=fig)


def rfm_grid(d: ReportData) -> Chart:
    title = "RFM segments: recency × frequency grid"
    if d.rfm_grid is None or d.rfm_grid.empty:
        return _missing("rfm_grid", title, "marts.dim_customers.rfm_segment")
    g = d.rfm_grid
    customers = g.pivot(index="rfm_frequency_score", columns="rfm_recency_score", values="customers")
    revenue = g.pivot(index="rfm_frequency_score", columns="rfm_recency_score", values="revenue")
    segment = g.pivot(index="rfm_frequency_score", columns="rfm_recency_score", values="rfm_segment")
    text = [
        [
            # pandas-stubs types .iat as any scalar; customers and revenue are numbers
            f"{segment.iat[i, j]}<br>{int(customers.iat[i, j]):,} cust.<br>{_money(revenue.iat[i, j])}"  # type: ignore[arg-type]
            if not pd.isna(customers.iat[i, j])
            else ""
            for j in range(customers.shape[1])
        ]
        for i in range(customers.shape[0])
    ]
    fig = go.Figure(
        go.Heatmap(
            z=customers.to_numpy(dtype=float),
            x=[str(c) for c in customers.columns],
            y=[str(i) for i in customers.index],
            text=text,
            texttemplate="%{text}",
            textfont=dict(size=11),
            colorscale="YlGnBu",
            colorbar=dict(title="customers"),
            xgap=2,
            ygap=2,
            hovertemplate="recency score %{x}, frequency score %{y}<br>%{text}<extra></extra>",
        )
    )
    _layout(
        fig,
        height=520,
        xaxis=dict(title="recency score (5 = bought most recently)"),
        yaxis=dict(title="frequency score (5 = most purchase days)"),
    )
    s = d.rfm_segments if d.rfm_segments is not None else pd.DataFrame()
    total = float(s["revenue"].sum()) if len(s) else 0.0
    top_rev = s.sort_values("revenue", ascending=False).iloc[0] if len(s) else None
    reading = "Each cell: segment, customers and net revenue."
    if top_rev is not None and total > 0:
        reading = (
            f"{top_rev['rfm_segment']} ({int(top_rev['customers']):,} customers, "
            f"{int(top_rev['customers']) / s['customers'].sum():.1%} of all) bring "
            f"{float(top_rev['revenue']) / total:.1%} of net revenue; each cell shows segment, "
            "customers and net revenue."
        )
    return Chart("rfm_grid", title, reading, figure=fig)


def value_tiers(d: ReportData) -> Chart:
    title = "Value tiers"
    if d.value_tiers is None or d.value_tiers.empty:
        return _missing("value_tiers", title, "marts.dim_customers.value_tier")
    v = d.value_tiers.set_index("value_tier")
    order = [t for t in TIER_ORDER if t in v.index] + sorted(set(v.index) - set(TIER_ORDER))
    v = v.reindex(order)
    share_c = v["customers"] / v["customers"].sum()
    rev12 = v["revenue_last_12_months"].clip(lower=0)
    share_r = rev12 / rev12.sum() if rev12.sum() > 0 else rev12 * 0
    fig = go.Figure()
    fig.add_bar(
        x=order,
        y=share_c,
        name="share of customers",
        marker_color=GREY,
        text=[f"{n:,}" for n in v["customers"]],
        textposition="outside",
    )
    fig.add_bar(
        x=order,
        y=share_r,
        name="share of net revenue, last 12 months",
        marker_color=BLUE,
        text=[_money(x) for x in v["revenue_last_12_months"]],
        textposition="outside",
    )
    _layout(fig, barmode="group", yaxis=dict(tickformat=".0%", title="share"), xaxis=dict(title="value tier"))
    reading = "Customers and last-12-month revenue by tier."
    if "high_value" in v.index:
        reading = (
            f"The high-value tier is {share_c['high_value']:.1%} of customers and brings "
            f"{share_r['high_value']:.1%} of the last 12 months' net revenue."
        )
    return Chart("value_tiers", title, reading, figure=fig)


def clv_distribution(d: ReportData) -> Chart:
    title = "Predicted 365-day CLV: distribution"
    if d.clv is None:
        return _missing("clv_distribution", title, "marts.dim_customers.predicted_clv_365d")
    values = d.clv["predicted_clv_365d"].astype(float)
    if values.empty:
        return Chart(
            "clv_distribution",
            title,
            "No CLV model was fitted on this warehouse (see the fit-clv-models "
            "step's log), so there is no prediction to show.",
            missing="predicted_clv_365d values",
        )
    cap = float(values.quantile(0.99))
    shown = values.clip(upper=cap)
    fig = go.Figure(
        go.Histogram(x=shown, nbinsx=40, marker_color=BLUE, hovertemplate="CLV %{x}<br>%{y:,} customers<extra></extra>")
    )
    _layout(
        fig,
        xaxis=dict(title=f"predicted CLV, next 365 days (the top 1% shown at {_money(cap)})"),
        yaxis=dict(title="customers"),
        bargap=0.05,
    )
    top_decile = values.sort_values(ascending=False).head(max(1, len(values) // 10)).sum()
    reading = (
        f"Median predicted CLV is {_money(values.median())} and the mean {_money(values.mean())}; "
        f"the top 10% of customers hold {top_decile / values.sum():.1%} of the "
        f"{_money(values.sum())} predicted."
        if values.sum() > 0
        else "Every predicted CLV is 0."
    )
    return Chart("clv_distribution", title, reading, figure=fig)


def top_clv_customers(d: ReportData) -> Chart:
    title = "Top customers by predicted CLV"
    if d.top_customers is None:
        return _missing("top_clv", title, "marts.dim_customers.predicted_clv_365d")
    t = d.top_customers
    if t.empty:
        return Chart(
            "top_clv",
            title,
            "No CLV model was fitted, so no customer has a prediction.",
            missing="predicted_clv_365d values",
        )
    t = t.iloc[::-1]
    hover = [
        ", ".join(f"{c}={row[c]}" for c in t.columns if c not in ("customer_id", "predicted_clv_365d"))
        for _, row in t.iterrows()
    ]
    fig = go.Figure(
        go.Bar(
            x=t["predicted_clv_365d"],
            y=t["customer_id"].astype(str),
            orientation="h",
            marker_color=GREEN,
            text=[_money(x) for x in t["predicted_clv_365d"]],
            textposition="outside",
            customdata=hover,
            hovertemplate="%{y}: %{x:,.2f}<br>%{customdata}<extra></extra>",
        )
    )
    _layout(
        fig,
        height=max(360, 24 * len(t) + 100),
        xaxis=dict(title="predicted CLV, next 365 days"),
        yaxis=dict(title="customer", type="category"),
    )
    first = d.top_customers.iloc[0]
    reading = (
        f"Customer {first['customer_id']} leads with {_money(first['predicted_clv_365d'])}; the top "
        f"{len(d.top_customers)} together are worth {_money(d.top_customers['predicted_clv_365d'].sum())}."
    )
    return Chart("top_clv", title, reading, figure=fig)


ALERT_COLUMNS = [
    ("loss_rank", "rank"),
    ("customer_id", "customer"),
    ("rfm_segment", "RFM segment"),
    ("churn_risk", "churn risk"),
    ("prior_period_revenue", "prior 90 days"),
    ("recent_period_revenue", "last 90 days"),
    ("revenue_change", "change"),
    ("change_pct", "change %"),
    ("days_since_last_purchase", "days since last purchase"),
    ("last_purchase_date", "last purchase"),
]


def decline_alerts(d: ReportData) -> Chart:
    import html

    title = "High-value decline alerts"
    if d.alerts is None:
        return _missing("decline_alerts", title, "marts.rpt_high_value_decline_alerts")
    if d.alerts.empty:
        return Chart(
            "decline_alerts",
            title,
            "No high-value customer's revenue fell by the alert threshold in the last 90 days.",
            table_html="<p class='empty'>No alerts.</p>",
        )
    a = d.alerts
    cols = [(c, label) for c, label in ALERT_COLUMNS if c in a.columns]
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in cols)
    rows = []
    for _, row in a.iterrows():
        cells = []
        for c, _ in cols:
            v = row[c]
            if pd.isna(v):
                text = ""
            elif c in ("prior_period_revenue", "recent_period_revenue", "revenue_change"):
                text = f"{float(v):,.2f}"
            elif c == "change_pct":
                text = f"{float(v):.1f}%"
            else:
                text = _day(v)
            cells.append(
                f"<td class='{'num' if c not in ('customer_id', 'rfm_segment', 'churn_risk') else ''}'>"
                f"{html.escape(text)}</td>"
            )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    shown = f" (the {len(a)} largest shown)" if d.alerts_total > len(a) else ""
    table = f"<table class='alerts'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    loss = float(a["revenue_change"].sum()) if "revenue_change" in a.columns else float("nan")
    reading = (
        f"{d.alerts_total:,} high-value customers' net revenue in the latest decline window fell by at least "
        f"the alert threshold against the window before (vars decline_window_days, decline_threshold_pct), "
        f"largest loss first{shown}; together the listed ones spent {_money(-loss)} less."
    )
    return Chart("decline_alerts", title, reading, table_html=table)


def category_breadth(d: ReportData) -> Chart:
    title = "Churn rate by category breadth"
    if d.category_breadth is None or d.category_breadth.empty:
        return _missing("category_breadth", title, "marts.rpt_category_breadth_churn")
    b = d.category_breadth
    labels = [str(x) for x in b["category_breadth"]]
    fig = go.Figure()
    fig.add_bar(
        x=labels,
        y=b["churn_rate"],
        name="churn rate",
        marker_color=RED,
        text=[_pct(x) for x in b["churn_rate"]],
        textposition="outside",
        customdata=b["customers"],
        hovertemplate="%{x} categories: %{y:.1%} churned of %{customdata:,}<extra></extra>",
    )
    fig.add_scatter(
        x=labels, y=b["customers"], name="customers", yaxis="y2", mode="lines+markers", line=dict(color=GREY)
    )
    _layout(
        fig,
        xaxis=dict(title="distinct categories bought", type="category"),
        yaxis=dict(title="churn rate", tickformat=".0%", rangemode="tozero"),
        yaxis2=dict(title="customers", overlaying="y", side="right", rangemode="tozero", showgrid=False),
    )
    known = b[(b["customers"] > 0) & b["churn_rate"].notna()]
    if len(known) >= 2:
        first, last = known.iloc[0], known.iloc[-1]
        reading = (
            f"{_pct(first['churn_rate'])} of customers who bought {first['category_breadth']} "
            f"categor{'y' if str(first['category_breadth']) == '1' else 'ies'} have churned against "
            f"{_pct(last['churn_rate'])} of those who bought {last['category_breadth']}; broad buyers also buy "
            "more often, so read this as a correlate, not a cause."
        )
    elif len(known) == 1:
        group = str(known.iloc[0]["category_breadth"])
        why = "the input has no product categories" if group == "none" else "the input has no spread of categories"
        reading = (
            f"Every customer is in one group ({group!r}: {why}); its churn rate is {_pct(known.iloc[0]['churn_rate'])}."
        )
    else:
        reading = "No customers yet."
    return Chart("category_breadth", title, reading, figure=fig)


def holdout_check(d: ReportData) -> Chart:
    title = "CLV model check: predicted vs actual holdout purchases"
    if d.holdout is None:
        return _missing("clv_holdout", title, "marts.rpt_clv_holdout_validation")
    if d.holdout.empty:
        return Chart(
            "clv_holdout",
            title,
            "No holdout check on this warehouse: the history before the calibration "
            "end is too short or too small to fit the models (see the fit-clv-models step's log).",
            missing="rows in rpt_clv_holdout_validation",
        )
    h = d.holdout[d.holdout["frequency_bucket"].astype(str) != "total"]
    totals = d.holdout[d.holdout["frequency_bucket"].astype(str) == "total"]
    fig = go.Figure()
    first_model = True
    colours = {"bg_nbd": BLUE, "pareto_nbd": ORANGE}
    for model, part in h.groupby("model_name", sort=True):
        per = part["n_customers"].where(part["n_customers"] > 0)
        if first_model:
            fig.add_scatter(
                x=part["frequency_bucket"].astype(str),
                y=part["actual_repeat_purchases"] / per,
                name="actual",
                mode="lines+markers",
                line=dict(color="black", width=3),
            )
            first_model = False
        fig.add_scatter(
            x=part["frequency_bucket"].astype(str),
            y=part["predicted_repeat_purchases"] / per,
            name=f"predicted, {model}",
            mode="lines+markers",
            line=dict(color=colours.get(str(model), GREEN), dash="dash"),
        )
    _layout(
        fig,
        xaxis=dict(title="repeat purchase days in the calibration period", type="category"),
        yaxis=dict(title="repeat purchase days per customer in the holdout", rangemode="tozero"),
    )
    parts = []
    for _, t in totals.iterrows():
        if pd.notna(t["predicted_repeat_purchases"]):
            parts.append(f"{t['model_name']} predicts {float(t['predicted_repeat_purchases']):,.0f}")
    if len(totals) and parts:
        actual = float(totals.iloc[0]["actual_repeat_purchases"])
        cal = _day(totals.iloc[0].get("calibration_end_date"))
        reading = (
            f"Fitted on purchases up to {cal}, {' and '.join(parts)} repeat purchase days in the holdout "
            f"period against {actual:,.0f} actual; the closer the dashed lines follow the black one, the "
            "better the model ranks customers."
        )
    else:
        reading = "The models could not be fitted on the calibration period (too short a history)."
    return Chart("clv_holdout", title, reading, figure=fig)


def p_alive_matrix(d: ReportData) -> Chart:
    title = "CLV model check: P(alive) by frequency and recency"
    if d.p_alive_grid is None:
        return _missing("p_alive", title, "marts.dim_customers.p_alive")
    g = d.p_alive_grid.dropna(subset=["p_alive"])
    if g.empty:
        return Chart(
            "p_alive", title, "No CLV model was fitted, so no customer has a P(alive).", missing="p_alive values"
        )
    freq = g["frequency"].clip(upper=P_ALIVE_FREQUENCY_CAP).astype(int)
    max_recency = max(float(g["recency_days"].max()), 1.0)
    edges = np.linspace(0, max_recency, P_ALIVE_RECENCY_BINS + 1)
    rec_bin = np.clip(np.digitize(g["recency_days"], edges[1:-1]), 0, P_ALIVE_RECENCY_BINS - 1)
    grid = (
        pd.DataFrame({"f": freq, "r": rec_bin, "p": g["p_alive"].astype(float)})
        .groupby(["f", "r"])["p"]
        .mean()
        .unstack("r")
        .reindex(index=range(0, int(freq.max()) + 1), columns=range(P_ALIVE_RECENCY_BINS))
    )
    counts = (
        pd.DataFrame({"f": freq, "r": rec_bin})
        .value_counts()
        .unstack("r")
        .reindex(index=grid.index, columns=grid.columns)
    )
    x = [f"{edges[i]:.0f}–{edges[i + 1]:.0f}" for i in range(P_ALIVE_RECENCY_BINS)]
    y = [f"{f}+" if f == P_ALIVE_FREQUENCY_CAP else str(f) for f in grid.index]
    fig = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(dtype=float),
            x=x,
            y=y,
            customdata=counts.fillna(0).to_numpy(dtype=float),
            colorscale="RdYlGn",
            zmin=0,
            zmax=1,
            colorbar=dict(title="mean P(alive)", tickformat=".0%"),
            hovertemplate="frequency %{y}, recency %{x} days<br>mean P(alive) %{z:.1%} over %{customdata:,} "
            "customers<extra></extra>",
            xgap=1,
            ygap=1,
        )
    )
    _layout(
        fig,
        height=480,
        xaxis=dict(title="recency (days between first and last purchase day)"),
        yaxis=dict(title="frequency (repeat purchase days)"),
    )
    repeat = g[g["frequency"] > 0]
    low = (repeat["p_alive"] < 0.5).mean() if len(repeat) else float("nan")
    reading = (
        f"Each cell is the mean P(alive) of its customers (their number on hover); along a row, a later last "
        f"purchase should mean a higher P(alive). {_pct(low)} of repeat buyers are below 50%."
    )
    return Chart("p_alive", title, reading, figure=fig)


BUILDERS: list[Callable[[ReportData], Chart]] = [
    cohort_heatmap,
    retention_by_month,
    lifecycle_over_time,
    rfm_grid,
    value_tiers,
    clv_distribution,
    top_clv_customers,
    decline_alerts,
    category_breadth,
    holdout_check,
    p_alive_matrix,
]


def build_charts(d: ReportData) -> list[Chart]:
    return [builder(d) for builder in BUILDERS]
