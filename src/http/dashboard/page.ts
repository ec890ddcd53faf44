/**
 * The dashboard's HTML shell, rendered by the server. It holds no data: every panel is filled by
 * the script from the admin API, which is where authentication applies (a browser cannot send a
 * bearer token when it navigates, so the shell itself is public, like any static asset).
 */
export function renderDashboardPage(assets: { js: string; css: string }, info: { version: string }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Warden dashboard</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="${assets.css}">
<script src="${assets.js}" defer></script>
</head>
<body>
<a class="skip" href="#app">Skip to the dashboard</a>
<header class="topbar">
  <div class="brand"><img class="logo" src="/favicon.svg" alt=""> <span>Warden</span> <span class="muted">governance dashboard</span>
    <span id="instance" class="muted small"></span></div>
  <div class="status" aria-label="Status">
    <span id="live-status" class="pill warn" role="status">connecting&hellip;</span>
    <span id="policy-pill" class="pill">policy</span>
    <span id="chain-pill" class="pill">chain</span>
  </div>
  <div class="who"><span id="whoami"></span> <button type="button" id="logout" class="link" hidden>Sign out</button></div>
</header>
<div id="announcer" class="sr" aria-live="polite"></div>
<div id="toasts" class="toasts" aria-live="polite"></div>

<section id="login" class="login" hidden aria-labelledby="login-title">
  <h2 id="login-title">Sign in</h2>
  <p>This Warden requires a bearer token (the <code>auth</code> section of its config). The token is kept in this tab only (sessionStorage) and sent as <code>Authorization: Bearer</code>.</p>
  <form id="login-form">
    <label for="token">Token</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required>
    <button type="submit">Sign in</button>
    <p id="login-message" class="note" role="alert"></p>
  </form>
</section>

<main id="app" hidden>
  <section id="compliance" class="panel span-8 admin-only" aria-labelledby="compliance-title">
    <div class="panel-head">
      <h2 id="compliance-title">Compliance</h2>
      <div><label class="inline" for="range">Range</label>
        <select id="range">
          <option value="all">everything</option>
          <option value="1h">last hour</option>
          <option value="24h">last 24 hours</option>
          <option value="7d">last 7 days</option>
        </select></div>
    </div>
    <div class="score-row">
      <div class="score-box"><span id="compliance-score" class="score" aria-describedby="score-basis">&mdash;</span><span class="label">compliance score</span></div>
      <p id="score-basis" class="muted"></p>
    </div>
    <div id="compliance-stats" class="stats-grid"></div>
    <div class="charts">
      <figure><figcaption>Calls and violations over time</figcaption><div id="chart-time"></div></figure>
      <figure><figcaption>Top rules by violations</figcaption><div id="chart-rules"></div></figure>
    </div>
    <div class="tables">
      <div><h3>Per workflow</h3><div id="workflow-table"></div></div>
      <div><h3>Per policy revision</h3><div id="revision-table"></div></div>
    </div>
    <p class="muted small">How the score is computed: docs/compliance.md.</p>
  </section>

  <section id="approvals" class="panel span-4" aria-labelledby="approvals-title">
    <div class="panel-head"><h2 id="approvals-title">Pending approvals <span id="approval-count" class="count">0</span></h2></div>
    <div id="approval-list"><p class="empty">Loading&hellip;</p></div>
  </section>

  <section id="sessions" class="panel span-12 admin-only" aria-labelledby="sessions-title">
    <div class="panel-head"><h2 id="sessions-title">Live sessions <span id="session-count" class="count">0</span></h2>
      <p class="legend"><span class="step done"><span class="mark">&#x2714;</span> done</span> <span class="step pending"><span class="mark">&#x25CB;</span> pending</span> <span class="step blocked"><span class="mark">&#x2718;</span> blocked</span></p></div>
    <div id="session-list" class="cards"><p class="empty">Loading&hellip;</p></div>
  </section>

  <section id="decisions" class="panel span-12 admin-only" aria-labelledby="decisions-title">
    <div class="panel-head">
      <h2 id="decisions-title">Decision stream</h2>
      <form id="filters" class="filters no-print" aria-label="Filter decisions">
        <label class="inline" for="filter-tool">Tool</label> <input id="filter-tool" type="search" size="14">
        <label class="inline" for="filter-decision">Decision</label>
          <select id="filter-decision">
            <option value="">all</option>
            <option value="allowed">allowed</option>
            <option value="denied">denied</option>
            <option value="held">held for approval</option>
            <option value="violations">violations</option>
          </select>
        <label class="inline" for="filter-rule">Rule</label> <input id="filter-rule" type="search" size="18" placeholder="workflow.step_order">
        <button type="button" id="filter-session" class="chip" hidden></button>
        <button type="button" id="filter-clear" class="link">clear</button>
      </form>
    </div>
    <p id="decision-count" class="muted small"></p>
    <div class="table-wrap">
      <table class="stream">
        <caption class="sr">Calls, newest first; select one to open its session trace</caption>
        <thead><tr><th scope="col">Time</th><th scope="col">Session</th><th scope="col">Call</th><th scope="col">Decision</th><th scope="col">Reasons</th><th scope="col">Revision</th><th scope="col" class="num">Duration</th></tr></thead>
        <tbody id="decision-rows"></tbody>
      </table>
    </div>
  </section>

  <section id="tools" class="panel span-12 admin-only" aria-labelledby="tools-title">
    <div class="panel-head"><h2 id="tools-title">Pinned tools <span id="tool-changed-count" class="count">0</span></h2></div>
    <p class="muted small">Each tool's definition is pinned when first seen; a changed or suspicious one is denied until accepted (docs/tool-pinning.md).</p>
    <div id="tool-list"><p class="empty">Loading&hellip;</p></div>
  </section>

  <section id="reports" class="panel span-7 admin-only" aria-labelledby="reports-title">
    <h2 id="reports-title">Audit reports</h2>
    <form id="report-form" class="report-form no-print">
      <label>Session <input id="report-session" type="text" placeholder="any session" size="36"></label>
      <label>From <input id="report-from" type="datetime-local"></label>
      <label>To <input id="report-to" type="datetime-local"></label>
      <button type="submit">Show report</button>
    </form>
    <div id="report-actions" class="actions no-print" hidden>
      <button type="button" id="report-csv">Export CSV</button>
      <button type="button" id="report-json">Export JSON</button>
      <button type="button" id="report-print">Print</button>
    </div>
    <div id="report-body"><p class="muted">Pick a session and/or a time range. The report states whether the audit trail's hash chain verifies.</p></div>
  </section>

  <section id="policy" class="panel span-5 admin-only" aria-labelledby="policy-title">
    <h2 id="policy-title">Policy</h2>
    <div id="policy-body"><p class="muted">Loading&hellip;</p></div>
  </section>

  <p class="admin-note">You can answer the approvals your roles allow. The rest of the dashboard needs the <code>admin</code> role.</p>
</main>

<dialog id="trace" aria-labelledby="trace-title">
  <div class="dialog-head">
    <h2 id="trace-title">Session</h2>
    <div class="actions no-print">
      <button type="button" id="trace-json">Export JSON</button>
      <button type="button" id="trace-csv">Export CSV</button>
      <button type="button" id="trace-print">Print</button>
      <button type="button" id="trace-close" aria-label="Close">&times;</button>
    </div>
  </div>
  <div id="trace-body"></div>
</dialog>
<footer class="foot muted small">mcp-warden ${escapeHtml(info.version)} &middot; <a href="/metrics">metrics</a> &middot; API: /admin (docs/admin-api.md)</footer>
</body>
</html>
`;
}

/** A shield, so that browsers do not ask for /favicon.ico. */
export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><path d="M16 2 4 7v8c0 7.5 5.1 13.4 12 15 6.9-1.6 12-7.5 12-15V7z" fill="#1f4f8f"/><path d="m11 16 4 4 7-8" stroke="#fff" stroke-width="3" fill="none"/></svg>`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
