/** The dashboard's stylesheet (`/assets/dashboard.css`): screen and print. */
export const DASHBOARD_CSS = String.raw`
:root {
  --bg: #f4f6f9; --panel: #fff; --ink: #1b2430; --muted: #5b6776; --line: #d9dfe7;
  --brand: #1f4f8f; --ok: #1e7a46; --ok-bg: #e3f4ea; --warn: #8a5a00; --warn-bg: #fff3d6;
  --bad: #b42318; --bad-bg: #fde8e6; --info-bg: #e8eef8; --focus: #2563eb;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 15px; line-height: 1.45; color: var(--ink); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.88em; }
a { color: var(--brand); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 8px; top: 8px; background: #fff; padding: 6px 10px; z-index: 10; }
.muted { color: var(--muted); }
.small { font-size: 0.85em; }
.bad { color: var(--bad); }
.good { color: var(--ok); }
[hidden] { display: none !important; }

.topbar { display: flex; flex-wrap: wrap; align-items: center; gap: 12px 24px; padding: 10px 20px; background: #14263f; color: #fff; }
.topbar .muted { color: #b8c4d6; }
.brand { font-size: 1.15em; font-weight: 600; }
.logo { width: 22px; height: 22px; vertical-align: -5px; }
.status { display: flex; gap: 8px; flex: 1; }
.who { display: flex; gap: 8px; align-items: center; }
.who .link { color: #cfe0ff; }
.pill { display: inline-block; padding: 2px 10px; border-radius: 999px; font-size: 0.82em; background: #2b3f5c; color: #e6edf7; margin-left: 6px; }
.pill.ok { background: var(--ok-bg); color: var(--ok); }
.pill.warn { background: var(--warn-bg); color: var(--warn); }
.pill.bad { background: var(--bad-bg); color: var(--bad); }

main { display: grid; grid-template-columns: repeat(12, minmax(0, 1fr)); gap: 16px; padding: 16px 20px; max-width: 1500px; margin: 0 auto; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; min-width: 0; }
.span-12 { grid-column: span 12; } .span-8 { grid-column: span 8; } .span-7 { grid-column: span 7; }
.span-5 { grid-column: span 5; } .span-4 { grid-column: span 4; }
@media (max-width: 1000px) { .span-8, .span-7, .span-5, .span-4 { grid-column: span 12; } }
h2 { font-size: 1.1em; margin: 0 0 8px; }
h3 { font-size: 0.95em; margin: 12px 0 6px; }
h4 { font-size: 0.92em; margin: 8px 0 4px; }
.panel-head { display: flex; flex-wrap: wrap; align-items: baseline; justify-content: space-between; gap: 8px; }
.count { display: inline-block; min-width: 1.6em; text-align: center; border-radius: 999px; background: var(--info-bg); color: var(--brand); font-size: 0.8em; padding: 1px 6px; }
.count.attention { background: var(--warn-bg); color: var(--warn); }
.empty { color: var(--muted); font-style: italic; }
.note { color: var(--warn); background: var(--warn-bg); padding: 6px 8px; border-radius: 6px; }
label.inline { display: inline-flex; gap: 6px; align-items: center; font-size: 0.9em; margin: 0 4px 0 8px; }
input, select, button { font: inherit; }
input, select { border: 1px solid var(--line); border-radius: 6px; padding: 4px 8px; background: #fff; }
button { border: 1px solid var(--line); background: #fff; border-radius: 6px; padding: 5px 12px; cursor: pointer; }
button:hover { background: var(--info-bg); }
button:disabled { opacity: 0.5; cursor: default; }
button.link { border: 0; background: none; color: var(--brand); padding: 0; text-decoration: underline; }
button.approve { background: var(--ok); color: #fff; border-color: var(--ok); }
button.deny { background: var(--bad); color: #fff; border-color: var(--bad); }
.chip { border-radius: 999px; background: var(--info-bg); }

.score-row { display: flex; align-items: center; gap: 18px; margin: 6px 0 10px; }
.score-box { display: flex; flex-direction: column; align-items: center; min-width: 120px; }
.score { font-size: 2.6em; font-weight: 700; line-height: 1; }
.score.good { color: var(--ok); } .score.fair { color: var(--warn); } .score.poor { color: var(--bad); }
.score-box .label { font-size: 0.8em; color: var(--muted); }
.stats-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(120px, 1fr)); gap: 8px; }
.stat { background: var(--bg); border-radius: 8px; padding: 6px 10px; display: flex; flex-direction: column; }
.stat .value { font-size: 1.25em; font-weight: 600; }
.stat .label { font-size: 0.78em; color: var(--muted); }
.stat.good .value { color: var(--ok); } .stat.fair .value { color: var(--warn); } .stat.poor .value { color: var(--bad); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: 16px; margin-top: 12px; }
.tables { display: grid; grid-template-columns: 1fr; gap: 4px; margin-top: 12px; }
.tables > div { overflow-x: auto; }
figure { margin: 0; }
figcaption { font-weight: 600; font-size: 0.9em; margin-bottom: 4px; }
.chart { width: 100%; height: auto; max-height: 220px; }
.chart .axis { stroke: var(--line); }
.chart .tick, .chart .label { font-size: 11px; fill: var(--muted); }
.chart .end { text-anchor: end; }
.chart .bar-calls { fill: #c8d6ea; }
.chart .bar-violations { fill: var(--bad); }
.legend { font-size: 0.82em; color: var(--muted); margin: 2px 0; }
.key { display: inline-block; width: 10px; height: 10px; border-radius: 2px; vertical-align: middle; }
.key.calls { background: #c8d6ea; } .key.violations { background: var(--bad); }

table { border-collapse: collapse; width: 100%; font-size: 0.9em; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 0.85em; }
td.num, th.num { text-align: right; white-space: nowrap; }
.table-wrap { overflow-x: auto; max-height: 560px; overflow-y: auto; }
.stream tbody tr { cursor: pointer; }
.stream tbody tr:hover { background: var(--info-bg); }
.stream tr.fresh { animation: flash 1.5s ease-out; }
@keyframes flash { from { background: #fff6bf; } to { background: transparent; } }
@media (prefers-reduced-motion: reduce) { .stream tr.fresh { animation: none; } }
.reasons ul, ul.reasons { margin: 0; padding-left: 16px; }
.reasons li.monitored { color: var(--warn); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 0.8em; white-space: nowrap; background: var(--info-bg); color: var(--brand); }
.badge.success, .badge.running { background: var(--ok-bg); color: var(--ok); }
.badge.error { background: var(--warn-bg); color: var(--warn); }
.badge.denied { background: var(--bad-bg); color: var(--bad); }
.badge.held, .badge.approved, .badge.pending { background: var(--warn-bg); color: var(--warn); }

.approval { border: 1px solid var(--line); border-left: 4px solid var(--warn); border-radius: 8px; padding: 8px 10px; margin-bottom: 10px; }
.approval p { margin: 4px 0; }
.approval label { display: block; font-size: 0.82em; color: var(--muted); margin-top: 6px; }
.approval input { width: 100%; }
.actions { display: flex; gap: 8px; margin-top: 8px; flex-wrap: wrap; }
.args code { word-break: break-all; }

.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 12px; }
.session { border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px; }
.session .stats { font-size: 0.85em; color: var(--muted); margin: 4px 0; }
.workflow { border-top: 1px dashed var(--line); padding-top: 4px; }
.subject-label { font-size: 0.8em; color: var(--muted); margin-top: 2px; }
ol.steps { list-style: none; display: flex; flex-wrap: wrap; gap: 4px; padding: 0; margin: 4px 0; }
.step { display: inline-flex; align-items: center; gap: 4px; padding: 1px 8px; border-radius: 999px; font-size: 0.82em; border: 1px solid var(--line); }
.step.done { background: var(--ok-bg); color: var(--ok); border-color: #b9e2c8; }
.step.pending { background: var(--warn-bg); color: var(--warn); border-color: #f1d99a; }
.step.blocked { background: #eef0f3; color: var(--muted); }
.step .tag { font-size: 0.75em; background: #fff; border-radius: 4px; padding: 0 4px; }
.restriction { font-size: 0.85em; margin: 2px 0; color: var(--muted); }
.restriction.tripped { color: var(--bad); }

dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 12px; margin: 0 0 8px; font-size: 0.9em; }
dt { color: var(--muted); } dd { margin: 0; word-break: break-all; }
.error-box { background: var(--bad-bg); color: var(--bad); border-radius: 6px; padding: 8px; white-space: pre-wrap; font-size: 0.88em; }
ol.history { font-size: 0.85em; padding-left: 18px; }
.report-form { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: end; }
.report-form label { display: flex; flex-direction: column; font-size: 0.85em; color: var(--muted); }
p.chain { font-weight: 600; }

dialog { width: min(960px, 94vw); max-height: 90vh; border: 1px solid var(--line); border-radius: 10px; padding: 0; }
dialog::backdrop { background: rgba(20, 38, 63, 0.45); }
.dialog-head { position: sticky; top: 0; display: flex; justify-content: space-between; align-items: center; gap: 8px; background: var(--panel); border-bottom: 1px solid var(--line); padding: 10px 14px; }
.dialog-head .actions { margin: 0; }
#trace-body { padding: 10px 14px; }
ol.trace { padding-left: 20px; }
ol.trace > li { margin-bottom: 10px; padding-left: 6px; border-left: 3px solid var(--ok); }
ol.trace > li.denied { border-left-color: var(--bad); }
.approval-line { color: var(--warn); font-size: 0.9em; }

.login { max-width: 440px; margin: 60px auto; background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 20px; }
.login form { display: grid; gap: 8px; }
.toasts { position: fixed; right: 16px; bottom: 16px; display: grid; gap: 8px; z-index: 20; }
.toast { background: #14263f; color: #fff; padding: 8px 12px; border-radius: 8px; max-width: 420px; box-shadow: 0 4px 12px rgba(0,0,0,0.2); }
.toast.bad { background: var(--bad); }
.admin-note { display: none; grid-column: span 12; }
body.not-admin .admin-only { display: none; }
body.not-admin .admin-note { display: block; }
body.not-admin #approvals { grid-column: span 12; }
.foot { text-align: center; padding: 12px; }

.tool { padding: 6px 0; border-top: 1px solid #0002; }
.tool .findings { margin: 4px 0; }
.tool table.diff { width: 100%; border-collapse: collapse; margin: 6px 0; }
.tool table.diff th, .tool table.diff td { vertical-align: top; text-align: left; padding: 4px; }
.tool table.diff pre { white-space: pre-wrap; word-break: break-word; margin: 0; max-height: 16em; overflow: auto; }
.tool pre.before { background: var(--bad-bg); }
.tool pre.after { background: var(--ok-bg); }
@media print {
  :root { background: #fff; font-size: 11pt; }
  .topbar, .toasts, .no-print, .skip, .foot, #login, button { display: none !important; }
  main { display: block; padding: 0; }
  .panel { border: 0; padding: 0; margin-bottom: 16px; break-inside: avoid-page; }
  .table-wrap { max-height: none; overflow: visible; }
  body[data-print="report"] main > :not(#reports) { display: none !important; }
  body[data-print="trace"] main { display: none !important; }
  dialog { position: static; width: auto; max-height: none; border: 0; }
  dialog::backdrop { display: none; }
  a { color: inherit; text-decoration: none; }
}
`;
