# Generates grafana/dashboards/slo.json (run: python3 deploy/grafana/dashboard.gen.py from the repo root).
# Kept as code so every PromQL expression is written once and the test can evaluate them all.
import json, os
HERE = os.path.dirname(os.path.abspath(__file__))
DS = {"type": "prometheus", "uid": "prometheus"}
ELIG = 'slo_eligible="true"'

def bad(w):
    return (f'(1 - (sum(rate(schedstack_dispatch_lag_seconds_bucket{{{ELIG},le="0.3"}}[{w}]))'
            f' / clamp_min(sum(rate(schedstack_dispatch_lag_seconds_count{{{ELIG}}}[{w}])), 1e-9)))')

def ts(title, exprs, x, y, w=12, h=8, unit="s", thresholds=None, desc=""):
    p = {"type": "timeseries", "title": title, "description": desc, "datasource": DS,
         "gridPos": {"x": x, "y": y, "w": w, "h": h},
         "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
         "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
         "targets": [{"refId": chr(65 + i), "expr": e, "legendFormat": l, "datasource": DS} for i, (e, l) in enumerate(exprs)]}
    if thresholds:
        p["fieldConfig"]["defaults"]["thresholds"] = {"mode": "absolute", "steps": thresholds}
        p["fieldConfig"]["defaults"]["custom"] = {"thresholdsStyle": {"mode": "line"}}
    return p

def stat(title, expr, x, y, w=6, h=5, unit="percentunit", steps=None, desc=""):
    return {"type": "stat", "title": title, "description": desc, "datasource": DS,
            "gridPos": {"x": x, "y": y, "w": w, "h": h},
            "fieldConfig": {"defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps or [{"color": "green", "value": None}]}}, "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "value"},
            "targets": [{"refId": "A", "expr": expr, "datasource": DS}]}

q = lambda p: f'histogram_quantile({p}, sum by (le) (rate(schedstack_dispatch_lag_seconds_bucket{{{ELIG}}}[5m])))'
burn_steps = [{"color": "green", "value": None}, {"color": "orange", "value": 6}, {"color": "red", "value": 14.4}]
panels = [
    ts("p99 dispatch lag vs objective (live first attempts)",
       [(q(0.99), "p99"), (q(0.90), "p90"), (q(0.50), "p50"), ("vector(0.3)", "objective (300 ms)")], 0, 0, w=16, h=9,
       thresholds=[{"color": "green", "value": None}, {"color": "red", "value": 0.3}],
       desc="lag = first byte out − scheduled_for; SPEC §7 objective: p99 ≤ 300 ms"),
    stat("Error budget left (30 days)", f'1 - ({bad("30d")} / 0.01)', 16, 0, w=8, h=4,
         steps=[{"color": "red", "value": None}, {"color": "orange", "value": 0.25}, {"color": "green", "value": 0.5}],
         desc="Share of the budget (1% of eligible fires may be later than 300 ms) still unspent over 30 days"),
    stat("Burn rate (1 h)", f'{bad("1h")} / 0.01', 16, 4, w=4, h=5, unit="none", steps=burn_steps),
    stat("Burn rate (6 h)", f'{bad("6h")} / 0.01', 20, 4, w=4, h=5, unit="none", steps=burn_steps),
    ts("Burn rate by window",
       [(f'{bad("5m")} / 0.01', "5m"), (f'{bad("30m")} / 0.01', "30m"), (f'{bad("1h")} / 0.01', "1h"),
        (f'{bad("6h")} / 0.01', "6h"), ("vector(14.4)", "page (14.4×)"), ("vector(6)", "ticket (6×)")], 0, 9, unit="none",
       desc="Multi-window burn rates; an alert fires when both windows of a pair exceed its line"),
    ts("Excluded fires by kind",
       [('sum by (fire_kind, environment) (rate(schedstack_dispatch_lag_seconds_count{slo_eligible="false"}[5m]))', "{{environment}} {{fire_kind}}")],
       12, 9, unit="ops", desc="Retries, reclaims, deferrals, coalesced and DST-shifted fires, and all sandbox/test fires"),
    ts("Delivery outcomes", [('sum by (outcome) (rate(schedstack_deliveries_total[5m]))', "{{outcome}}")], 0, 17, unit="ops"),
    ts("Queue depth", [('sum by (state) (schedstack_due_fires)', "{{state}}")], 12, 17, unit="short",
       desc="Fires due within the next minute, and overdue fires not yet sent"),
]
for i, p in enumerate(panels):
    p["id"] = i + 1
dash = {"uid": "schedstack-slo", "title": "SchedStack — dispatch SLO", "tags": ["schedstack", "slo"], "timezone": "utc",
        "schemaVersion": 39, "version": 1, "time": {"from": "now-6h", "to": "now"}, "refresh": "30s",
        "panels": panels, "templating": {"list": []}, "annotations": {"list": []}}
with open(os.path.join(HERE, "dashboards", "slo.json"), "w") as f:
    json.dump(dash, f, indent=2, ensure_ascii=False)
    f.write("\n")
