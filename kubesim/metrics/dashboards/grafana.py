"""The catalogue as Grafana dashboard JSON, built with grafana-foundation-sdk.

Every dashboard gets a `datasource` variable (any Prometheus data source) that all panels
and variables use, the catalogue's query variables (multi-value, All = `.*`, so a series
without the label still matches), rows laid out on the 24-column grid, panel ids unique
per dashboard and query refIds A, B, ... per panel. `schemaVersion` is Grafana 12's.
"""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.builders import dashboard as gd
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.builders.common import (
    ReduceDataOptions,
    StackingConfig,
    VizLegendOptions,
)
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    BigValueColorMode,
    BigValueGraphMode,
    LegendDisplayMode,
    LegendPlacement,
    StackingMode,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

from kubesim.metrics.dashboards.model import ALL, Dashboard, Panel, Variable

SCHEMA_VERSION = 41
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")


def _thresholds(panel: Panel) -> gd.ThresholdsConfig:
    steps = panel.thresholds or ((None, "green"),)
    return (gd.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE)
            .steps([Threshold(value=value, color=colour) for value, colour in steps]))


def _panel(panel: Panel, panel_id: int) -> Any:
    if panel.kind == "stat":
        builder: Any = (stat.Panel().graph_mode(BigValueGraphMode.AREA).color_mode(BigValueColorMode.VALUE)
                        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]).values(False)))
    else:
        builder = (timeseries.Panel().line_width(1).fill_opacity(10 if panel.stack else 0)
                   .legend(VizLegendOptions().display_mode(LegendDisplayMode.LIST)
                           .placement(LegendPlacement.BOTTOM).show_legend(True)))
        if panel.stack:
            builder = builder.stacking(StackingConfig().mode(StackingMode.NORMAL))
    builder = (builder.id(panel_id).title(panel.title).description(panel.description)
               .datasource(DATASOURCE).unit(panel.unit).span(panel.width).height(panel.height)
               .thresholds(_thresholds(panel)))
    if panel.decimals is not None:
        builder = builder.decimals(panel.decimals)
    for index, query in enumerate(panel.queries):
        target = (prometheus.Dataquery().expr(query.expr).ref_id(chr(ord("A") + index))
                  .datasource(DATASOURCE).range())
        if query.legend:
            target = target.legend_format(query.legend)
        builder = builder.with_target(target)
    return builder


def _variable(variable: Variable) -> gd.QueryVariable:
    return (gd.QueryVariable(variable.name).label(variable.label).datasource(DATASOURCE)
            .query(variable.query).refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(VariableSort.ALPHABETICAL_ASC).multi(True).include_all(True).all_value(ALL)
            .current(VariableOption(selected=True, text="All", value="$__all")))


def build(board: Dashboard) -> dict[str, Any]:
    """One dashboard as Grafana's dashboard JSON model (a dict)."""
    builder = (gd.Dashboard(board.title).uid(board.uid).description(board.description)
               .tags(list(board.tags)).editable().tooltip(DashboardCursorSync.CROSSHAIR)
               .time("now-1h", "now").refresh("30s").timezone("browser")
               .with_variable(gd.DatasourceVariable("datasource").label("Data source").type("prometheus")))
    for variable in board.variables:
        builder = builder.with_variable(_variable(variable))
    panel_id = 0
    for row in board.rows:
        panel_id += 1
        builder = builder.with_row(gd.Row(row.title).id(panel_id))
        for panel in row.panels:
            panel_id += 1
            builder = builder.with_panel(_panel(panel, panel_id))
    model = builder.build()
    model.schema_version = SCHEMA_VERSION
    data: dict[str, Any] = json.loads(json.dumps(model, cls=JSONEncoder))
    data.pop("style", None)  # a leftover of old Grafana versions, ignored since 7
    for variable in data["templating"]["list"]:
        variable.pop("id", None)  # the SDK's placeholder; Grafana keys variables by name
    return data


def render(board: Dashboard) -> str:
    """The checked-in text of a dashboard file."""
    return json.dumps(build(board), indent=2, sort_keys=True) + "\n"
