//! A timeline of one run as one self-contained HTML file (no network, no CDN): a lane per node and per client or
//! reader, fault windows as bands on the lanes they hit (clock faults say the offset or drift), every trace event
//! as a mark, and each violation's causal chain (see [`crate::explain`]) drawn across the lanes and highlighted.
//! Zoom with the wheel, pan by dragging, click a mark for its details, filter by environment or entity.
//!
//! The data travels as compact JSON inside the page and is drawn by a small script: lanes, fault bands and chains
//! as SVG elements (so a test can find them in the rendered DOM), the many event marks on a canvas.

use crate::explain::explain;
use crate::faults::{Fault, FaultSpec};
use crate::outcome::Outcome;
use crate::trace::{HarnessEvent, Record, TraceEvent};
use serde::Serialize;
use std::collections::BTreeMap;

/// Violations whose chains are drawn at most.
const CHAINS_MAX: usize = 20;

#[derive(Serialize)]
struct Data {
    title: String,
    verdict: String,
    end_us: u64,
    lanes: Vec<String>,
    /// Events as `[time_us, lane, level (0 warn, 1 info, 2 debug), text]`.
    events: Vec<(u64, usize, u8, String)>,
    faults: Vec<Band>,
    chains: Vec<ChainData>,
    /// Where the run branched: `[time_us, child]` (see `branch`).
    branches: Vec<(u64, String)>,
    /// The failure's likelihood, if measured (`repro --likelihood`): `[time_us, percent of children failing]`.
    likelihood: Vec<(u64, u64)>,
}

#[derive(Serialize)]
struct Band {
    start_us: u64,
    end_us: u64,
    lanes: Vec<usize>,
    text: String,
}

#[derive(Serialize)]
struct ChainData {
    violation: String,
    /// Steps as `[time_us, lane, text, wrong reason or ""]`.
    steps: Vec<(u64, usize, String, String)>,
}

/// Lane order: the system's services, then the harness's actors, each group by name.
fn lane_rank(name: &str) -> (u8, String) {
    let group = match name.split('-').next().unwrap_or(name) {
        "store" => 0,
        "queue" => 1,
        "ingest" => 2,
        "worker" => 3,
        "client" => 4,
        "reader" => 5,
        "checker" => 6,
        "faults" => 7,
        _ => 8,
    };
    (group, name.to_string())
}

/// The lanes a fault hits.
fn hit_lanes(spec: &FaultSpec, lanes: &[String]) -> Vec<usize> {
    let index = |name: &str| lanes.iter().position(|l| l == name);
    let all_nodes = || (0..lanes.len()).filter(|&i| lane_rank(&lanes[i]).0 <= 3).collect::<Vec<_>>();
    match &spec.fault {
        Fault::PauseWorkers { .. } => (0..lanes.len()).filter(|&i| lanes[i].starts_with("worker-")).collect(),
        Fault::Burst { environments, .. } => {
            environments.iter().filter_map(|env| index(&format!("client-{env}"))).collect()
        }
        Fault::Deploy { .. } => index("checker").into_iter().collect(),
        _ if spec.target() == Some("network") => all_nodes(),
        _ => {
            let mut hit: Vec<usize> = spec.nodes().into_iter().filter_map(index).collect();
            hit.sort_unstable();
            hit.dedup();
            hit
        }
    }
}

fn level(record: &Record) -> u8 {
    match record.level() {
        tracing::Level::WARN | tracing::Level::ERROR => 0,
        tracing::Level::INFO => 1,
        _ => 2,
    }
}

/// The timeline of a run as a self-contained HTML page.
pub fn html(outcome: &Outcome, trace: &[Record]) -> String {
    html_with(outcome, trace, &[])
}

/// [`html`], with a failure's likelihood drawn under the lanes (points from `explore::likelihood`).
pub fn html_with(outcome: &Outcome, trace: &[Record], likelihood: &[crate::explore::likelihood::Point]) -> String {
    let mut names: Vec<String> = trace.iter().map(|r| r.node.to_string()).collect();
    names.sort_by_key(|n| lane_rank(n));
    names.dedup();
    let lane_of: BTreeMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    let lane = |node: &str| lane_of.get(node).copied().unwrap_or(0);
    let end_us = trace.last().map_or(1, |r| r.at.as_micros() as u64).max(1);
    let mut events: Vec<(u64, usize, u8, String)> =
        trace.iter().map(|r| (r.at.as_micros() as u64, lane(&r.node), level(r), r.event.to_string())).collect();
    // A lease is the queue's event, and the worker's too: shown on the worker's lane beside its renders and
    // writes, so that each worker's lane reads as what it did.
    for r in trace {
        if let TraceEvent::System(system::events::Event::JobLeased { worker, .. }) = &r.event {
            if let Some(&worker_lane) = lane_of.get(worker.as_str()) {
                events.push((r.at.as_micros() as u64, worker_lane, level(r), r.event.to_string()));
            }
        }
    }
    events.sort_by_key(|e| (e.0, e.1));
    // Fault windows, from the injector's start and heal records (a fault that never healed ends with the run).
    let mut open: Vec<(String, u64, FaultSpec)> = Vec::new();
    let mut faults = Vec::new();
    for r in trace {
        let TraceEvent::Harness(event) = &r.event else { continue };
        let at = r.at.as_micros() as u64;
        match event {
            HarnessEvent::FaultStarted { spec } | HarnessEvent::FaultStays { spec } => {
                open.push((spec.to_string(), at, (**spec).clone()))
            }
            HarnessEvent::FaultHealed { spec } => {
                let key = spec.to_string();
                if let Some(i) = open.iter().position(|(k, ..)| *k == key) {
                    let (text, start_us, spec) = open.remove(i);
                    faults.push(Band { start_us, end_us: at, lanes: hit_lanes(&spec, &names), text });
                }
            }
            HarnessEvent::HealAll | HarnessEvent::HealCore { .. } => {
                for (text, start_us, spec) in open.drain(..) {
                    faults.push(Band { start_us, end_us: at, lanes: hit_lanes(&spec, &names), text });
                }
            }
            _ => {}
        }
    }
    for (text, start_us, spec) in open {
        faults.push(Band { start_us, end_us, lanes: hit_lanes(&spec, &names), text });
    }
    let chains = outcome
        .violations
        .iter()
        .take(CHAINS_MAX)
        .filter_map(|v| {
            let chain = explain(trace, v)?;
            Some(ChainData {
                violation: v.to_string(),
                steps: chain
                    .steps
                    .iter()
                    .map(|s| {
                        (
                            s.at.as_micros() as u64,
                            lane(&s.node),
                            s.line.clone(),
                            s.wrong.as_ref().map(|c| c.to_string()).unwrap_or_default(),
                        )
                    })
                    .collect(),
            })
        })
        .collect();
    let safety_start = trace
        .iter()
        .find(|r| matches!(r.event, TraceEvent::Harness(HarnessEvent::PhaseStarted { phase: "safety" })))
        .map_or(0, |r| r.at.as_micros() as u64);
    let branches = trace
        .iter()
        .filter_map(|r| match &r.event {
            TraceEvent::Harness(HarnessEvent::BranchTaken { child }) => {
                Some((r.at.as_micros() as u64, format!("{child:016x}")))
            }
            _ => None,
        })
        .collect();
    let likelihood = likelihood.iter().map(|p| (safety_start + p.at_ms * 1_000, p.percent())).collect();
    let data = Data {
        title: format!("{} · seed {}", outcome.scenario, outcome.seed),
        verdict: if outcome.passed() {
            "PASS".into()
        } else {
            format!("FAIL · {} violations", outcome.violations.len())
        },
        end_us,
        lanes: names,
        events,
        faults,
        chains,
        branches,
        likelihood,
    };
    // `</` cannot close the script element early: JSON strings escape it.
    let json = serde_json::to_string(&data).expect("timeline data serializes").replace("</", "<\\/");
    PAGE.replace("{{TITLE}}", &escape(&data.title)).replace("{{DATA}}", &json)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

const PAGE: &str = r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>timeline · {{TITLE}}</title>
<style>
body{font:13px system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{padding:8px 12px;background:#263238;color:#eee;display:flex;gap:16px;align-items:center;flex-wrap:wrap}
header b{font-size:15px} input{font:inherit;padding:2px 6px;width:220px}
#wrap{position:relative;overflow:hidden;border-bottom:1px solid #ccc;cursor:grab;user-select:none}
#wrap canvas,#wrap svg{position:absolute;left:0;top:0}
.lane-label{font-size:11px;fill:#333} .lane{stroke:#e0e0e0}
.axis-tick line{stroke:#bbb} .axis-tick text{font-size:10px;fill:#555}
.branch-mark line{stroke:#2e7d32;stroke-width:2;stroke-dasharray:4 2} .branch-mark text{font-size:10px;fill:#2e7d32}
.likelihood-bar{fill:#6a1b9a;fill-opacity:.6}
.fault-band{fill:#ff7043;fill-opacity:.18;stroke:#ff7043;stroke-opacity:.5}
.chain polyline{fill:none;stroke:#6a1b9a;stroke-width:2} .chain circle{fill:#6a1b9a}
.chain circle.wrong{fill:#d50000;r:7} .chain.dim{opacity:.15}
#details{padding:8px 12px;font-family:ui-monospace,monospace;white-space:pre-wrap;min-height:3em;background:#fff;border-bottom:1px solid #ddd}
#violations{padding:8px 12px} #violations li{cursor:pointer;margin:2px 0} #violations li:hover{text-decoration:underline}
.wrong-text{color:#d50000}
</style></head><body>
<header><b id="title"></b><span id="verdict"></span>
<label>filter (environment or entity) <input id="filter" placeholder="globex/page-0028"></label>
<span>wheel: zoom · drag: pan · click: details · click a violation below to follow its chain · <a href="#" id="reset" style="color:#9cf">reset</a></span></header>
<div id="wrap"><canvas id="marks"></canvas><svg id="svg"></svg></div>
<div id="details">Click an event mark or a chain step for its details.</div>
<ol id="violations"></ol>
<script type="application/json" id="data">{{DATA}}</script>
<script>
"use strict";
window.addEventListener("error", function (e) {
  var box = document.getElementById("script-errors") || document.body.appendChild(Object.assign(document.createElement("pre"), {id: "script-errors"}));
  box.textContent += (e.message || "error") + "\n";
});
var D = JSON.parse(document.getElementById("data").textContent);
var LANE_H = 22, LABEL_W = 170, TOP = 26;
var wrap = document.getElementById("wrap"), svg = document.getElementById("svg"), canvas = document.getElementById("marks");
var details = document.getElementById("details"), filterBox = document.getElementById("filter");
var NS = "http://www.w3.org/2000/svg";
var view = {from: 0, to: D.end_us};
var filter = "";
var selected = 0;
var colours = ["#d84315", "#1565c0", "#90a4ae"];
document.getElementById("title").textContent = D.title;
document.getElementById("verdict").textContent = D.verdict;
function width() { return Math.max(400, wrap.clientWidth || document.documentElement.clientWidth || 1200); }
function height() { return TOP + D.lanes.length * LANE_H + 10 + (D.likelihood.length ? 60 : 0); }
function x(t) { return LABEL_W + (t - view.from) / (view.to - view.from) * (width() - LABEL_W - 10); }
function laneY(i) { return TOP + i * LANE_H + LANE_H / 2; }
function el(name, attrs, parent) { var e = document.createElementNS(NS, name); for (var k in attrs) e.setAttribute(k, attrs[k]); parent.appendChild(e); return e; }
function secs(us) { return (us / 1e6).toFixed(6) + "s"; }
function matches(text) { return !filter || text.indexOf(filter) >= 0; }
function show(text) { details.textContent = text; }
function draw() {
  var w = width(), h = height();
  wrap.style.height = h + "px";
  svg.setAttribute("width", w); svg.setAttribute("height", h);
  canvas.width = w; canvas.height = h;
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  // The time axis, in simulated seconds: a tick every 1, 2 or 5 times a power of ten, about every 100 pixels.
  var span = view.to - view.from, raw = span / Math.max(1, (w - LABEL_W) / 100), step = Math.pow(10, Math.floor(Math.log10(raw)));
  step = raw / step >= 5 ? step * 5 : raw / step >= 2 ? step * 2 : step;
  for (var t = Math.ceil(view.from / step) * step; t <= view.to; t += step) {
    var tick = el("g", {"class": "axis-tick", "data-us": Math.round(t)}, svg);
    el("line", {x1: x(t), x2: x(t), y1: TOP - 8, y2: h}, tick);
    el("text", {x: x(t) + 2, y: TOP - 12}, tick).textContent = (t / 1e6).toFixed(step >= 1e6 ? 0 : step >= 1e5 ? 1 : step >= 1e4 ? 2 : 3) + "s";
  }
  el("text", {"class": "lane-label", x: 6, y: TOP - 12}, svg).textContent = "simulated time";
  var counts = D.lanes.map(function () { return 0; });
  D.events.forEach(function (e) { counts[e[1]] += 1; });
  D.lanes.forEach(function (name, i) {
    el("line", {"class": "lane", x1: LABEL_W, x2: w, y1: laneY(i), y2: laneY(i), "data-lane": name, "data-events": counts[i]}, svg);
    el("text", {"class": "lane-label", x: 6, y: laneY(i) + 4}, svg).textContent = name;
  });
  D.faults.forEach(function (f) {
    f.lanes.forEach(function (i) {
      var r = el("rect", {"class": "fault-band", x: x(f.start_us), y: laneY(i) - LANE_H / 2 + 1,
        width: Math.max(2, x(f.end_us) - x(f.start_us)), height: LANE_H - 2}, svg);
      el("title", {}, r).textContent = f.text + " (" + secs(f.start_us) + " to " + secs(f.end_us) + ")";
      r.addEventListener("click", function () { show("fault " + f.text + "\n" + secs(f.start_us) + " to " + secs(f.end_us)); });
    });
  });
  D.branches.forEach(function (b) {
    var g = el("g", {"class": "branch-mark", "data-us": b[0]}, svg);
    el("line", {x1: x(b[0]), x2: x(b[0]), y1: TOP - 8, y2: TOP + D.lanes.length * LANE_H}, g);
    el("text", {x: x(b[0]) + 3, y: TOP + D.lanes.length * LANE_H - 4}, g).textContent = "branch " + b[1];
    el("title", {}, g).textContent = "the run branched here: from " + secs(b[0]) + " on it drew from child " + b[1] + "'s streams";
  });
  if (D.likelihood.length) {
    var base = TOP + D.lanes.length * LANE_H + 55, w0 = Math.max(4, (w - LABEL_W) / D.likelihood.length / 2);
    el("text", {"class": "lane-label", x: 6, y: base - 20}, svg).textContent = "likelihood (% failing)";
    D.likelihood.forEach(function (p) {
      var bar = el("rect", {"class": "likelihood-bar", x: x(p[0]), y: base - p[1] * 0.45, width: w0, height: Math.max(1, p[1] * 0.45), "data-percent": p[1]}, svg);
      el("title", {}, bar).textContent = p[1] + "% of the children branched at " + secs(p[0]) + " still fail";
    });
  }
  var ctx = canvas.getContext("2d");
  D.events.forEach(function (e) {
    if (e[0] < view.from || e[0] > view.to) return;
    ctx.globalAlpha = matches(e[3]) ? 1 : 0.08;
    ctx.fillStyle = colours[e[2]];
    ctx.fillRect(x(e[0]) - 1, laneY(e[1]) - 5, 2, 10);
  });
  ctx.globalAlpha = 1;
  D.chains.forEach(function (c, n) {
    var hidden = n !== selected || (filter && !c.steps.some(function (s) { return matches(s[2]); }));
    var g = el("g", {"class": "chain" + (hidden ? " dim" : ""), "data-violation": n}, svg);
    el("polyline", {points: c.steps.map(function (s) { return x(s[0]) + "," + laneY(s[1]); }).join(" ")}, g);
    c.steps.forEach(function (s) {
      var dot = el("circle", {cx: x(s[0]), cy: laneY(s[1]), r: s[3] ? 7 : 4, "class": s[3] ? "wrong" : ""}, g);
      el("title", {}, dot).textContent = s[2];
      dot.addEventListener("click", function (ev) { ev.stopPropagation(); show(secs(s[0]) + " " + D.lanes[s[1]] + " " + s[2] + (s[3] ? "\n>> here: " + s[3] : "") + "\n\nviolation: " + c.violation); });
    });
  });
}
function listViolations() {
  var list = document.getElementById("violations");
  D.chains.forEach(function (c, n) {
    var li = document.createElement("li");
    li.textContent = c.violation;
    var wrong = c.steps.filter(function (s) { return s[3]; })[0];
    if (wrong) { var w = document.createElement("div"); w.className = "wrong-text"; w.textContent = ">> " + wrong[2] + ": " + wrong[3]; li.appendChild(w); }
    li.addEventListener("click", function () {
      var t0 = c.steps[0][0], t1 = c.steps[c.steps.length - 1][0], pad = Math.max(50000, (t1 - t0) * 0.1);
      selected = n; view.from = Math.max(0, t0 - pad); view.to = Math.min(D.end_us, t1 + pad); draw();
    });
    list.appendChild(li);
  });
}
wrap.addEventListener("click", function (ev) {
  var r = wrap.getBoundingClientRect(), px = ev.clientX - r.left, py = ev.clientY - r.top;
  var lane = Math.floor((py - TOP) / LANE_H), best = null, bestD = 6;
  D.events.forEach(function (e) { if (e[1] === lane) { var d = Math.abs(x(e[0]) - px); if (d < bestD) { bestD = d; best = e; } } });
  if (best) show(secs(best[0]) + " " + D.lanes[best[1]] + " " + best[3]);
});
wrap.addEventListener("wheel", function (ev) {
  ev.preventDefault();
  var r = wrap.getBoundingClientRect(), t = view.from + (ev.clientX - r.left - LABEL_W) / (width() - LABEL_W - 10) * (view.to - view.from);
  var k = ev.deltaY > 0 ? 1.25 : 0.8, from = t - (t - view.from) * k, to = t + (view.to - t) * k;
  if (to - from < 1000) return;
  view.from = Math.max(0, from); view.to = Math.min(D.end_us, to); draw();
}, {passive: false});
var drag = null;
wrap.addEventListener("mousedown", function (ev) { drag = {x: ev.clientX, from: view.from, to: view.to}; });
window.addEventListener("mouseup", function () { drag = null; });
window.addEventListener("mousemove", function (ev) {
  if (!drag) return;
  var dt = (drag.x - ev.clientX) / (width() - LABEL_W - 10) * (drag.to - drag.from);
  dt = Math.max(-drag.from, Math.min(D.end_us - drag.to, dt));
  view.from = drag.from + dt; view.to = drag.to + dt; draw();
});
document.getElementById("reset").addEventListener("click", function (ev) { ev.preventDefault(); view = {from: 0, to: D.end_us}; draw(); });
filterBox.addEventListener("input", function () { filter = filterBox.value.trim(); draw(); });
window.addEventListener("resize", draw);
draw(); listViolations();
document.body.setAttribute("data-ready", "1");
</script></body></html>
"##;
