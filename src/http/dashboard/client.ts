/**
 * The dashboard's browser script, served as `/assets/dashboard.js`: vanilla JavaScript (ES2017),
 * no framework, no build step, nothing fetched from elsewhere. It reads the admin API with the
 * token kept in sessionStorage (sent as `Authorization: Bearer`) and follows `/admin/events`
 * with fetch streaming, because EventSource cannot send that header.
 *
 * Kept as a `String.raw` literal so that it ships inside the compiled package: it must contain no
 * backtick and no dollar-brace (test/http/dashboard.test.ts parses it).
 */
export const DASHBOARD_JS = String.raw`
(function () {
  'use strict';

  var TOKEN_KEY = 'warden.token';
  var MAX_ROWS = 500;
  var state = {
    me: null,
    rows: [],
    byDecision: {},
    approvals: {},
    sessions: [],
    compliance: null,
    policy: null,
    verify: null,
    lastEventId: 0,
    connected: false,
    range: 'all',
    filters: { tool: '', decision: '', rule: '', session: '' }
  };

  // --- DOM helpers -------------------------------------------------------------------------------

  function $(id) { return document.getElementById(id); }

  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === 'text') el.textContent = String(v);
        else if (k === 'class') el.className = v;
        else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? '' : String(v));
      });
    }
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  function append(el, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); return; }
    el.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }

  function fill(el, content) {
    while (el.firstChild) el.removeChild(el.firstChild);
    append(el, content);
  }

  var SVG = 'http://www.w3.org/2000/svg';
  function s(tag, attrs) {
    var el = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') el.textContent = attrs[k];
      else el.setAttribute(k, String(attrs[k]));
    });
    for (var i = 2; i < arguments.length; i++) if (arguments[i]) el.appendChild(arguments[i]);
    return el;
  }

  function short(id) { return id ? String(id).slice(0, 8) : ''; }
  function pct(x) { return x === null || x === undefined ? '\u2014' : Math.round(x * 100) + '%'; }
  function ms(x) { return x === null || x === undefined ? '\u2014' : x < 1000 ? Math.round(x) + ' ms' : (x / 1000).toFixed(x < 10000 ? 1 : 0) + ' s'; }
  function clock(at) {
    if (!at) return '';
    var d = new Date(at);
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  }
  function when(at) {
    if (!at) return '';
    var d = new Date(at);
    return d.toLocaleDateString() + ' ' + clock(at);
  }
  function argsText(args) {
    if (!args) return '';
    return Object.keys(args).slice(0, 6).map(function (k) {
      var v = typeof args[k] === 'string' ? args[k] : JSON.stringify(args[k]);
      if (v && v.length > 40) v = v.slice(0, 37) + '...';
      return k + '=' + v;
    }).join(' ');
  }
  function announce(text) { $('announcer').textContent = text; }

  // --- API -----------------------------------------------------------------------------------------

  function token() { try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; } }
  function headers(extra) {
    var out = extra || {};
    if (token()) out.Authorization = 'Bearer ' + token();
    return out;
  }

  function api(path, options) {
    options = options || {};
    return fetch(path, { method: options.method || 'GET', headers: headers(options.body ? { 'Content-Type': 'application/json' } : {}), body: options.body ? JSON.stringify(options.body) : undefined })
      .then(function (res) {
        if (res.status === 401) { showLogin('Your token was not accepted. Sign in again.'); throw new Error('unauthorized'); }
        return res.text().then(function (text) {
          var body = null;
          try { body = text ? JSON.parse(text) : null; } catch (e) { body = { error_description: text }; }
          if (!res.ok) {
            var err = new Error((body && body.error_description) || ('HTTP ' + res.status));
            err.status = res.status;
            throw err;
          }
          return body;
        });
      });
  }

  function download(path, filename) {
    return fetch(path, { headers: headers() }).then(function (res) {
      if (!res.ok) throw new Error('export failed: HTTP ' + res.status);
      return res.blob();
    }).then(function (blob) {
      var url = URL.createObjectURL(blob);
      var a = h('a', { href: url, download: filename });
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(url); a.remove(); }, 1000);
    }).catch(function (e) { toast(e.message, true); });
  }

  function toast(text, bad) {
    var el = h('div', { class: 'toast' + (bad ? ' bad' : ''), role: bad ? 'alert' : 'status', text: text });
    $('toasts').appendChild(el);
    setTimeout(function () { el.remove(); }, 6000);
  }

  // --- sign in -------------------------------------------------------------------------------------

  function showLogin(message) {
    document.body.classList.add('signed-out');
    $('login').hidden = false;
    $('app').hidden = true;
    $('login-message').textContent = message || '';
    $('token').focus();
  }

  function start() {
    api('/admin/whoami').then(function (me) {
      state.me = me;
      document.body.classList.remove('signed-out');
      $('login').hidden = true;
      $('app').hidden = false;
      fill($('whoami'), [h('span', { text: me.sub }), ' ', h('span', { class: 'muted', text: '(' + (me.roles.join(', ') || 'no roles') + ')' })]);
      $('instance').textContent = me.instance ? 'instance: ' + me.instance : '';
      $('logout').hidden = me.auth === 'none';
      document.body.classList.toggle('not-admin', !me.admin);
      loadApprovals();
      if (me.admin) {
        loadPolicy();
        loadDecisions();
        loadSessions();
        loadCompliance();
        loadVerify();
        loadTools();
        setInterval(loadTools, 5000);
      }
      connect();
    }).catch(function (e) { if (e.message !== 'unauthorized') toast('Cannot reach Warden: ' + e.message, true); });
  }

  $('login-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    try { sessionStorage.setItem(TOKEN_KEY, $('token').value.trim()); } catch (e) { /* private mode */ }
    $('token').value = '';
    start();
  });
  $('logout').addEventListener('click', function () {
    try { sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* ignore */ }
    if (stream) stream.abort();
    showLogin('Signed out.');
  });

  // --- live events (SSE over fetch, so the Authorization header can be sent) -----------------------

  var stream = null;
  var retryMs = 1000;
  function setLive(on) {
    state.connected = on;
    var el = $('live-status');
    el.textContent = on ? 'live' : 'reconnecting\u2026';
    el.className = 'pill ' + (on ? 'ok' : 'warn');
  }

  function connect() {
    if (stream) stream.abort();
    var controller = new AbortController();
    stream = controller;
    var h2 = headers({ Accept: 'text/event-stream' });
    if (state.lastEventId) h2['Last-Event-ID'] = String(state.lastEventId);
    fetch('/admin/events', { headers: h2, signal: controller.signal }).then(function (res) {
      if (res.status === 401) { showLogin('Your token was not accepted. Sign in again.'); return; }
      if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
      setLive(true);
      retryMs = 1000;
      var reader = res.body.getReader();
      var decoder = new TextDecoder();
      var buffer = '';
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) throw new Error('stream ended');
          buffer += decoder.decode(r.value, { stream: true });
          var cut;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            var block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            dispatch(block);
          }
          return pump();
        });
      }
      return pump();
    }).catch(function () {
      if (controller.signal.aborted) return;
      setLive(false);
      setTimeout(function () { if (stream === controller) connect(); }, retryMs);
      retryMs = Math.min(retryMs * 2, 15000);
    });
  }

  function dispatch(block) {
    var type = 'message', data = '', id = null;
    block.split('\n').forEach(function (line) {
      if (line.charAt(0) === ':') return;
      var i = line.indexOf(':');
      var field = i < 0 ? line : line.slice(0, i);
      var value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'event') type = value;
      else if (field === 'data') data += (data ? '\n' : '') + value;
      else if (field === 'id') id = Number(value);
    });
    if (id) state.lastEventId = id;
    var payload = null;
    try { payload = data ? JSON.parse(data) : null; } catch (e) { return; }
    handlers[type] && handlers[type](payload);
  }

  var handlers = {
    ready: function () {
      // After a reconnect, catch up on what the replay window may not cover.
      state.readies = (state.readies || 0) + 1;
      if (state.readies === 1) return;
      loadApprovals();
      if (state.me && state.me.admin) { loadDecisions(); soon('sessions', loadSessions, 100); soon('compliance', loadCompliance, 200); }
    },
    decision: function (d) {
      var row = state.byDecision[d.decision_id];
      if (!row) {
        row = findAwaiting(d.session_id, d.call.name);
        if (!row) {
          row = { key: d.decision_id, call_id: d.decision_id, decision_ids: [], session_id: d.session_id, at: d.at, name: d.call.name, server: d.call.server, kind: d.call.kind };
          addRow(row);
        }
        row.decision_ids.push(d.decision_id);
        state.byDecision[d.decision_id] = row;
      }
      var heldNow = !d.allow && d.policy_allow && d.reasons.length > 0 && d.reasons.every(function (r) { return r.rule === 'warden.approval_required'; });
      row.allow = d.allow;
      row.reasons = d.allow ? [] : d.reasons;
      row.monitored = d.monitored;
      row.revision = d.revision;
      row.awaiting = false;
      row.outcome = d.allow ? 'running' : heldNow ? 'held' : 'denied';
      row.violation = !d.allow && d.reasons.some(function (r) { return r.rule.indexOf('warden.') !== 0; });
      row.fresh = true;
      renderRows();
      announce('Decision: ' + d.call.name + ' ' + row.outcome);
      soon('sessions', loadSessions, 300);
    },
    completion: function (c) {
      var row = state.byDecision[c.decision_id];
      if (row) {
        row.outcome = c.outcome;
        row.duration_ms = c.duration_ms;
        if (c.outcome !== 'denied') { row.allow = true; row.reasons = []; }
        renderRows();
      }
      soon('sessions', loadSessions, 300);
      soon('compliance', loadCompliance, 800);
    },
    'approval.pending': function (d) {
      state.approvals[d.approval.id] = d.approval;
      var row = state.byDecision[d.approval.id];
      if (row) { row.outcome = 'held'; renderRows(); }
      renderApprovals();
      toast('Approval needed: ' + d.approval.call.name + ' (' + d.approval.principal.sub + ')');
    },
    'approval.resolved': function (d) {
      delete state.approvals[d.approval.id];
      renderApprovals();
      var row = state.byDecision[d.approval.id];
      if (row) {
        if (d.result.granted) { row.outcome = 'approved'; row.awaiting = true; }
        else { row.outcome = 'denied'; row.reasons = [{ rule: 'warden.approval_required', message: d.result.message }]; }
        row.approval = d.result;
        renderRows();
      }
      soon('compliance', loadCompliance, 800);
    },
    'session.opened': function () { soon('sessions', loadSessions, 200); },
    'session.closed': function () { soon('sessions', loadSessions, 200); soon('compliance', loadCompliance, 800); },
    policy: function () { loadPolicy(); soon('sessions', loadSessions, 200); }
  };

  var timers = {};
  function soon(name, fn, delay) {
    if (timers[name]) return;
    timers[name] = setTimeout(function () { timers[name] = null; fn(); }, delay);
  }

  function findAwaiting(sessionId, name) {
    for (var i = 0; i < state.rows.length; i++) {
      var r = state.rows[i];
      if (r.awaiting && r.session_id === sessionId && r.name === name) return r;
    }
    return null;
  }

  // --- decision stream -------------------------------------------------------------------------------

  function addRow(row) {
    state.rows.unshift(row);
    if (state.rows.length > MAX_ROWS) {
      var gone = state.rows.pop();
      (gone.decision_ids || []).forEach(function (id) { delete state.byDecision[id]; });
    }
  }

  function loadDecisions() {
    api('/admin/decisions?limit=200').then(function (body) {
      var known = {};
      state.rows.forEach(function (r) { known[r.call_id] = true; });
      body.decisions.slice().reverse().forEach(function (d) {
        if (known[d.call_id]) return;
        var row = {
          key: d.call_id, call_id: d.call_id, decision_ids: d.decision_ids, session_id: d.session_id, at: d.at, name: d.name, server: d.server, kind: d.kind,
          allow: d.allow, reasons: d.reasons, monitored: d.monitored, revision: d.revision, outcome: d.outcome, duration_ms: d.duration_ms,
          violation: d.violation, approval: d.approval, awaiting: false
        };
        addRow(row);
        d.decision_ids.forEach(function (id) { state.byDecision[id] = row; });
      });
      state.rows.sort(function (a, b) { return a.at < b.at ? 1 : a.at > b.at ? -1 : 0; });
      renderRows();
    }).catch(function (e) { if (e.status !== 403) toast('Decisions: ' + e.message, true); });
  }

  var OUTCOME_LABEL = { success: 'allowed \u2714', error: 'allowed, tool failed', denied: 'denied \u2718', held: 'held for approval', approved: 'approved, deciding again', running: 'allowed, running' };

  function matches(row) {
    var f = state.filters;
    if (f.tool && row.name.toLowerCase().indexOf(f.tool.toLowerCase()) < 0) return false;
    if (f.session && row.session_id !== f.session) return false;
    if (f.decision === 'allowed' && !(row.outcome === 'success' || row.outcome === 'error' || row.outcome === 'running')) return false;
    if (f.decision === 'denied' && row.outcome !== 'denied') return false;
    if (f.decision === 'held' && !(row.outcome === 'held' || row.outcome === 'approved')) return false;
    if (f.decision === 'violations' && !row.violation) return false;
    if (f.rule) {
      var all = (row.reasons || []).concat(row.monitored || []);
      if (!all.some(function (r) { return r.rule.indexOf(f.rule) >= 0; })) return false;
    }
    return true;
  }

  function renderRows() {
    var body = $('decision-rows');
    var shown = state.rows.filter(matches).slice(0, 200);
    fill(body, shown.map(function (r) {
      var reasons = (r.reasons || []).map(function (x) { return h('li', null, h('code', { text: x.rule }), ' ', x.message); });
      (r.monitored || []).forEach(function (x) { reasons.push(h('li', { class: 'monitored' }, h('code', { text: x.rule }), ' would deny: ', x.message)); });
      var tr = h('tr', { class: 'row-' + r.outcome + (r.fresh ? ' fresh' : ''), 'data-call-id': r.call_id, 'data-outcome': r.outcome, 'data-tool': r.name, tabindex: '0', title: 'Open the session trace',
        onclick: function () { openTrace(r.session_id); },
        onkeydown: function (ev) { if (ev.key === 'Enter') openTrace(r.session_id); } },
        h('td', null, h('time', { datetime: r.at, text: clock(r.at) })),
        h('td', null, h('code', { text: short(r.session_id) })),
        h('td', null, h('strong', { text: r.name }), r.server ? h('span', { class: 'muted', text: ' ' + r.server }) : null),
        h('td', null, h('span', { class: 'badge ' + r.outcome, text: OUTCOME_LABEL[r.outcome] || r.outcome })),
        h('td', { class: 'reasons' }, reasons.length ? h('ul', null, reasons) : h('span', { class: 'muted', text: '\u2014' })),
        h('td', null, h('code', { title: r.revision || '', text: short(r.revision) })),
        h('td', { class: 'num' }, ms(r.duration_ms)));
      r.fresh = false;
      return tr;
    }));
    $('decision-count').textContent = shown.length + ' of ' + state.rows.length + ' calls';
  }

  ['filter-tool', 'filter-rule'].forEach(function (id) {
    $(id).addEventListener('input', function () { state.filters[id === 'filter-tool' ? 'tool' : 'rule'] = this.value.trim(); renderRows(); });
  });
  $('filters').addEventListener('submit', function (ev) { ev.preventDefault(); });
  $('filter-decision').addEventListener('change', function () { state.filters.decision = this.value; renderRows(); });
  $('filter-clear').addEventListener('click', function () {
    state.filters = { tool: '', decision: '', rule: '', session: '' };
    $('filter-tool').value = ''; $('filter-rule').value = ''; $('filter-decision').value = '';
    $('filter-session').hidden = true;
    renderRows();
  });

  // --- approvals -------------------------------------------------------------------------------------

  function loadApprovals() {
    api('/admin/approvals').then(function (body) {
      state.approvals = {};
      body.pending.forEach(function (a) { state.approvals[a.id] = a; });
      renderApprovals();
    }).catch(function () { /* shown elsewhere */ });
  }

  function renderApprovals() {
    var list = Object.keys(state.approvals).map(function (k) { return state.approvals[k]; });
    $('approval-count').textContent = String(list.length);
    document.title = (list.length ? '(' + list.length + ') ' : '') + 'Warden dashboard';
    $('approval-count').className = 'count' + (list.length ? ' attention' : '');
    if (!list.length) { fill($('approval-list'), h('p', { class: 'empty', text: 'No call is waiting for approval.' })); return; }
    fill($('approval-list'), list.map(function (a) {
      var commentId = 'comment-' + a.id;
      var expires = new Date(a.expires_at);
      return h('article', { class: 'approval', 'data-approval-id': a.id, 'aria-label': 'Approval for ' + a.call.name },
        h('header', null, h('strong', { text: a.call.name }), ' on ', h('span', { text: a.call.server }), h('span', { class: 'muted', text: ' requested by ' + a.principal.sub })),
        a.reason ? h('p', { text: a.reason }) : null,
        h('p', { class: 'args' }, h('code', { text: argsText(a.call.arguments) || '(no arguments)' })),
        h('p', { class: 'muted' }, 'Approvers: ' + (a.approvers.length ? a.approvers.join(', ') : 'admin') + ' \u00b7 expires ' + clock(expires.toISOString())),
        h('label', { for: commentId }, 'Comment'),
        h('input', { id: commentId, type: 'text', maxlength: '2000', placeholder: 'e.g. change ticket' }),
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'approve', onclick: function () { answer(a, true, commentId, this); } }, 'Approve'),
          h('button', { type: 'button', class: 'deny', onclick: function () { answer(a, false, commentId, this); } }, 'Deny')),
        a.may_approve ? h('p', { class: 'note', text: a.may_approve }) : null);
    }));
  }

  function answer(a, approve, commentId, button) {
    var comment = ($(commentId) || {}).value || '';
    button.disabled = true;
    api('/admin/approvals/' + encodeURIComponent(a.id), { method: 'POST', body: { approve: approve, comment: comment } })
      .then(function (body) {
        toast((approve ? 'Approved ' : 'Denied ') + a.call.name + ': ' + body.result.message);
        delete state.approvals[a.id];
        renderApprovals();
      })
      .catch(function (e) { button.disabled = false; toast(e.message, true); });
  }

  // --- live sessions ---------------------------------------------------------------------------------

  function loadSessions() {
    api('/admin/sessions?live=true').then(function (body) {
      state.sessions = body.sessions;
      renderSessions();
    }).catch(function (e) { if (e.status !== 403) toast('Sessions: ' + e.message, true); });
  }

  var STATE_MARK = { done: '\u2714', pending: '\u25cb', blocked: '\u2718' };

  function workflowView(name, w) {
    if (!w.valid) return h('div', { class: 'workflow invalid' }, h('h4', { text: name }), h('p', { class: 'bad', text: 'invalid template: ' + w.errors.join('; ') }));
    var subjects = w.subjects.filter(function (sub) { return sub.steps.length > 0; });
    return h('div', { class: 'workflow', 'data-workflow': name },
      h('h4', null, name, ' ', h('span', { class: 'badge ' + (w.complete ? 'success' : 'pending'), text: w.complete ? 'complete' : 'in progress' })),
      subjects.map(function (sub) {
        return h('div', { class: 'subject' },
          sub.label ? h('div', { class: 'subject-label', text: sub.label }) : null,
          h('ol', { class: 'steps' }, sub.steps.map(function (st) {
            var why = [];
            if (st.state !== 'done' && st.waiting_for && st.waiting_for.length) why.push('waiting for ' + st.waiting_for.join(', '));
            if (st.state !== 'done' && st.rejected && st.rejected.length) why.push(st.rejected.join('; '));
            if (st.last_outcome && st.last_outcome !== 'none') why.push('last call ' + st.last_outcome);
            if (st.approval && st.state !== 'done') why.push('needs approval');
            return h('li', { class: 'step ' + st.state, 'data-step': st.tool, 'data-state': st.state, title: st.tool + ': ' + st.state + (why.length ? ' (' + why.join('; ') + ')' : '') },
              h('span', { class: 'mark', 'aria-hidden': 'true', text: STATE_MARK[st.state] || '?' }),
              h('span', { text: st.tool }), h('span', { class: 'sr', text: ' ' + st.state }),
              st.approval && st.state !== 'done' ? h('span', { class: 'tag', text: 'approval' }) : null);
          })));
      }),
      (w.restrictions || []).map(function (r) {
        return h('p', { class: 'restriction' + (r.tripped ? ' tripped' : '') },
          r.tripped ? '\u2718 ' : '\u25cb ', 'after ', r.after.join(', '), ': ', r.then.join(', '), r.tripped ? ' now blocked' : ' allowed until then');
      }));
  }

  function renderSessions() {
    var list = state.sessions;
    $('session-count').textContent = String(list.length);
    if (!list.length) { fill($('session-list'), h('p', { class: 'empty', text: 'No client is connected. Sessions appear here while they are open.' })); return; }
    fill($('session-list'), list.map(function (sess) {
      var wf = sess.workflows;
      var body;
      if (!wf) body = null;
      else if (!wf.available) body = h('p', { class: 'note', text: wf.reason });
      else {
        var names = Object.keys(wf.workflows).filter(function (n) { return wf.workflows[n].active || !wf.workflows[n].valid; });
        body = names.length ? names.map(function (n) { return workflowView(n, wf.workflows[n]); }) : h('p', { class: 'muted', text: 'No workflow started yet.' });
      }
      var client = sess.client ? sess.client.name + ' ' + sess.client.version : 'unknown client';
      return h('article', { class: 'session', 'data-session-id': sess.session_id },
        h('header', null,
          h('button', { type: 'button', class: 'link', onclick: function () { openTrace(sess.session_id); }, text: short(sess.session_id) }),
          ' ', h('strong', { text: sess.principal ? sess.principal.sub : '?' }),
          h('span', { class: 'muted', text: ' ' + client }),
          sess.instance ? h('span', { class: 'tag', 'data-instance': sess.instance, text: sess.instance }) : null),
        h('p', { class: 'stats' }, sess.calls + ' calls \u00b7 ' + sess.allowed + ' allowed \u00b7 ' + sess.denied + ' denied' + (sess.held ? ' \u00b7 ' + sess.held + ' held' : '') + (sess.violations ? ' \u00b7 ' : ''),
          sess.violations ? h('span', { class: 'bad', text: sess.violations + ' violations' }) : null,
          ' ', h('button', { type: 'button', class: 'link', onclick: function () { filterSession(sess.session_id); }, text: 'show its calls' })),
        body);
    }));
  }

  function filterSession(id) {
    state.filters.session = id;
    var el = $('filter-session');
    el.hidden = false;
    el.textContent = 'session ' + short(id) + ' \u2715';
    renderRows();
    $('decisions').scrollIntoView({ behavior: 'smooth' });
  }
  $('filter-session').addEventListener('click', function () { state.filters.session = ''; this.hidden = true; renderRows(); });

  // --- compliance --------------------------------------------------------------------------------------

  function loadCompliance() {
    var q = state.range === 'all' ? '' : '?from=' + state.range;
    api('/admin/compliance' + q).then(function (c) { state.compliance = c; renderCompliance(); })
      .catch(function (e) { if (e.status !== 403) toast('Compliance: ' + e.message, true); });
  }
  $('range').addEventListener('change', function () { state.range = this.value; loadCompliance(); });

  function stat(label, value, cls, id) {
    return h('div', { class: 'stat ' + (cls || '') }, h('span', { class: 'value', id: id || null, text: value }), h('span', { class: 'label', text: label }));
  }

  function renderCompliance() {
    var c = state.compliance;
    var score = $('compliance-score');
    score.textContent = pct(c.score);
    score.className = 'score ' + (c.score === null ? '' : c.score >= 0.9 ? 'good' : c.score >= 0.6 ? 'fair' : 'poor');
    score.setAttribute('data-score', c.score === null ? '' : String(c.score));
    $('score-basis').textContent = c.basis === 'workflows'
      ? c.sessions.compliant + ' of ' + c.sessions.judged + ' judged sessions completed their workflows without a violation'
      : 'share of sessions without a violation (' + (c.basis_note || 'no workflow status') + ')';
    fill($('compliance-stats'), [
      stat('sessions compliant', String(c.sessions.compliant), 'good'),
      stat('violating', String(c.sessions.violating), c.sessions.violating ? 'poor' : ''),
      stat('incomplete', String(c.sessions.incomplete), c.sessions.incomplete ? 'fair' : ''),
      stat('in progress', String(c.sessions.in_progress)),
      stat('calls allowed', String(c.calls.allowed)),
      stat('denied', String(c.calls.denied), c.calls.denied ? 'poor' : '', 'denied-count'),
      stat('violations', String(c.calls.violations), c.calls.violations ? 'poor' : '', 'violation-count'),
      stat('monitor would-deny', String(c.calls.would_deny), c.calls.would_deny ? 'fair' : ''),
      stat('approvals', c.approvals.approved + '/' + c.approvals.requested),
      stat('approval p50 / p95', ms(c.approvals.latency_ms.p50) + ' / ' + ms(c.approvals.latency_ms.p95))
    ]);
    fill($('chart-time'), timeChart(c.over_time));
    fill($('chart-rules'), rulesChart(c.violations_by_rule.slice(0, 8)));
    fill($('workflow-table'), c.workflows.length ? table(['Workflow', 'Sessions', 'Completed', 'Clean', 'Violations', 'Score'], c.workflows.map(function (w) {
      return [w.workflow, w.sessions_started, w.completed, w.completed_clean, w.violations, pct(w.score)];
    }), 'Compliance per workflow') : h('p', { class: 'empty', text: 'No workflow activity in this range.' }));
    fill($('revision-table'), c.revisions.length ? table(['Policy revision', 'Calls', 'Denied', 'Violations', 'Would-deny', 'Violation rate'], c.revisions.map(function (r) {
      return [h('code', { title: r.revision, text: short(r.revision) }), r.calls, r.denied, r.violations, r.would_deny, pct(r.violation_rate)];
    }), 'Per policy revision') : h('p', { class: 'empty', text: 'No decisions in this range.' }));
  }

  function table(head, rows, caption) {
    return h('table', null, h('caption', { class: 'sr', text: caption }),
      h('thead', null, h('tr', null, head.map(function (x) { return h('th', { scope: 'col', text: x }); }))),
      h('tbody', null, rows.map(function (r) { return h('tr', null, r.map(function (x, i) { return h('td', { class: i ? 'num' : '' }, x); })); })));
  }

  function timeChart(points) {
    var W = 520, H = 160, P = 26;
    if (!points.length) return h('p', { class: 'empty', text: 'No calls in this range.' });
    var max = Math.max.apply(null, points.map(function (p) { return p.calls; }).concat([1]));
    var bw = (W - P - 8) / points.length;
    var total = points.reduce(function (a, p) { return a + p.violations; }, 0);
    var svg = s('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'Violations over time: ' + total + ' in ' + points.length + ' intervals', class: 'chart' },
      s('title', { text: 'Calls and violations over time' }));
    svg.appendChild(s('line', { x1: P, y1: H - 20, x2: W, y2: H - 20, class: 'axis' }));
    svg.appendChild(s('text', { x: 2, y: 12, class: 'tick', text: String(max) }));
    svg.appendChild(s('text', { x: 2, y: H - 22, class: 'tick', text: '0' }));
    points.forEach(function (p, i) {
      var x = P + i * bw + 1;
      var hc = (H - 40) * p.calls / max;
      var hv = (H - 40) * p.violations / max;
      var g = s('g', null, s('title', { text: when(p.start) + ': ' + p.calls + ' calls, ' + p.violations + ' violations, ' + p.denied + ' denied' }));
      g.appendChild(s('rect', { x: x, y: H - 20 - hc, width: Math.max(1, bw - 2), height: hc, class: 'bar-calls' }));
      g.appendChild(s('rect', { x: x, y: H - 20 - hv, width: Math.max(1, bw - 2), height: hv, class: 'bar-violations' }));
      svg.appendChild(g);
    });
    svg.appendChild(s('text', { x: P, y: H - 4, class: 'tick', text: clock(points[0].start) }));
    svg.appendChild(s('text', { x: W - 4, y: H - 4, class: 'tick end', text: clock(points[points.length - 1].start) }));
    return [svg, h('p', { class: 'legend' }, h('span', { class: 'key calls' }), ' calls ', h('span', { class: 'key violations' }), ' violations')];
  }

  function rulesChart(rules) {
    if (!rules.length) return h('p', { class: 'empty', text: 'No violations in this range.' });
    var W = 520, row = 24, H = rules.length * row + 4, L = 210;
    var max = Math.max.apply(null, rules.map(function (r) { return r.count; }));
    var svg = s('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'Top rules by violations: ' + rules.map(function (r) { return r.key + ' ' + r.count; }).join(', '), class: 'chart' },
      s('title', { text: 'Top rules by violations' }));
    rules.forEach(function (r, i) {
      var y = i * row + 2;
      var w = (W - L - 40) * r.count / max;
      svg.appendChild(s('text', { x: L - 6, y: y + 15, class: 'label end', text: r.key }));
      svg.appendChild(s('rect', { x: L, y: y + 3, width: Math.max(2, w), height: row - 8, class: 'bar-violations' }));
      svg.appendChild(s('text', { x: L + w + 6, y: y + 15, class: 'label', text: String(r.count) }));
    });
    return svg;
  }

  // --- policy and chain ----------------------------------------------------------------------------------

  function loadPolicy() {
    api('/admin/policy').then(function (p) { state.policy = p; renderPolicy(); }).catch(function () { /* not an admin */ });
  }

  function renderPolicy() {
    var p = state.policy;
    var a = p.active;
    $('policy-pill').textContent = a ? 'policy ' + short(a.revision) + (p.mode === 'monitor' ? ' (monitor)' : '') : 'no policy';
    $('policy-pill').className = 'pill ' + (p.last_error ? 'warn' : a ? 'ok' : 'bad');
    var items = [
      ['Active revision', a ? h('code', { text: a.revision }) : 'none'],
      ['Loaded', a ? when(a.loaded_at) + ' (' + a.reason + ')' : '\u2014'],
      ['Mode', p.mode],
      ['Entrypoint', h('code', { text: p.entrypoint })],
      ['Workflow status', p.workflow_status ? 'data.mcp.workflow.status' : 'not in this policy']
    ];
    Object.keys(a ? a.bundles : {}).forEach(function (name) { items.push(['Bundle ' + name, a.bundles[name].source]); });
    fill($('policy-body'), [
      h('dl', null, items.map(function (it) { return [h('dt', { text: it[0] }), h('dd', null, it[1])]; })),
      p.last_error ? h('div', { class: 'error-box', role: 'alert' }, h('strong', { text: 'Last error (' + when(p.last_error.at) + '): ' }), p.last_error.message) : h('p', { class: 'muted', text: 'No error since the last swap.' }),
      p.history.length ? h('details', null, h('summary', { text: 'History (' + p.history.length + ')' }), h('ol', { class: 'history' }, p.history.slice().reverse().slice(0, 10).map(function (e) {
        return h('li', null, when(e.at) + ' ' + e.event + (e.revision ? ' ' + short(e.revision) : '') + (e.error ? ': ' + e.error.message : ''));
      }))) : null
    ]);
  }

  function loadTools() {
    api('/admin/tools').then(function (body) { renderTools(body.tools); }).catch(function () { /* not an admin */ });
  }

  function definitionText(value) {
    if (value === undefined) return '(none)';
    return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  }

  function renderTools(tools) {
    var open = tools.filter(function (t) { return t.status !== 'pinned'; });
    $('tool-changed-count').textContent = String(open.length);
    if (tools.length === 0) { fill($('tool-list'), h('p', { class: 'empty', text: 'No tool is pinned yet.' })); return; }
    fill($('tool-list'), tools.map(function (t) {
      var title = [h('code', { text: t.server + '/' + t.tool }), ' ', h('span', { class: 'pill ' + (t.status === 'pinned' ? 'ok' : 'bad'), text: t.status })];
      if (t.status === 'pinned') return h('div', { class: 'tool pinned' }, title);
      var rows = t.diff.map(function (c) {
        return h('tr', null, h('th', { scope: 'row', text: c.field }), h('td', null, h('pre', { class: 'before', text: definitionText(c.before) })), h('td', null, h('pre', { class: 'after', text: definitionText(c.after) })));
      });
      var findings = t.offered.findings.map(function (f) { return h('li', null, h('code', { text: f.kind }), ' at ' + f.path + ': ', f.text); });
      return h('div', { class: 'tool changed', 'data-tool': t.server + '/' + t.tool }, [
        h('h3', null, title),
        findings.length ? h('ul', { class: 'findings' }, findings) : null,
        h('table', { class: 'diff' }, [h('caption', { class: 'sr', text: 'What changed' }), h('thead', null, h('tr', null, [h('th', { scope: 'col', text: 'Field' }), h('th', { scope: 'col', text: 'Accepted' }), h('th', { scope: 'col', text: 'Offered now' })])), h('tbody', null, rows)]),
        h('button', { type: 'button', text: 'Accept this definition', onclick: function () {
          api('/admin/tools/' + encodeURIComponent(t.server) + '/' + encodeURIComponent(t.tool) + '/accept', { method: 'POST', body: {} })
            .then(function () { toast('Accepted ' + t.server + '/' + t.tool); loadTools(); })
            .catch(function (e) { toast(e.message, true); });
        } })
      ]);
    }));
  }

  function loadVerify() {
    api('/admin/audit/verify').then(function (v) { state.verify = v; renderVerify(); }).catch(function () { /* ignore */ });
  }

  function verifyText(v) {
    return v.ok ? 'Hash chain verified: ' + v.count + ' records' + (v.count ? ' (seq ' + v.first_seq + '\u2013' + v.last_seq + ')' : '')
      : 'Hash chain FAILED at record ' + v.seq + ': ' + v.problem + ' (' + v.detail + ')';
  }

  function renderVerify() {
    var v = state.verify;
    var el = $('chain-pill');
    el.textContent = v.ok ? 'chain \u2714' : 'chain \u2718';
    el.className = 'pill ' + (v.ok ? 'ok' : 'bad');
    el.title = verifyText(v);
  }

  // --- session trace and audit reports ---------------------------------------------------------------------

  function traceView(body) {
    var r = body.report;
    var sess = body.session;
    var wf = body.workflows;
    var wfView = !wf ? null : !wf.available ? h('p', { class: 'note', text: wf.reason })
      : Object.keys(wf.workflows).filter(function (n) { return wf.workflows[n].active; }).map(function (n) { return workflowView(n, wf.workflows[n]); });
    return [
      h('p', null, h('code', { text: r.session_id }), sess.live ? h('span', { class: 'pill ok', text: 'live' }) : h('span', { class: 'pill', text: 'closed' })),
      r.opened ? h('p', { class: 'muted', text: 'opened ' + when(r.opened.at) + ' by ' + ((r.opened.principal || {}).sub || '?') + ' with ' + ((r.opened.client || {}).name || '?') }) : null,
      h('p', { text: r.totals.calls + ' calls: ' + r.totals.allowed + ' allowed, ' + r.totals.denied + ' denied; ' + r.totals.succeeded + ' succeeded, ' + r.totals.failed + ' failed' }),
      wfView && (!Array.isArray(wfView) || wfView.length) ? h('div', { class: 'trace-workflows' }, wfView) : null,
      h('ol', { class: 'trace' }, r.calls.map(function (c) {
        var d = c.decision;
        return h('li', { class: d && d.allow ? 'allowed' : 'denied' },
          h('div', null, h('strong', { text: c.tool || '?' }), ' ', h('span', { class: 'muted', text: (c.server || '') + ' \u00b7 ' + when(c.received_at) })),
          h('div', { class: 'args' }, h('code', { text: JSON.stringify(c.arguments || {}) })),
          d ? h('div', null, h('span', { class: 'badge ' + (d.allow ? 'success' : 'denied'), text: d.allow ? 'allowed' : 'denied' }), ' revision ', h('code', { text: short(d.revision) })) : null,
          d && d.reasons.length ? h('ul', { class: 'reasons' }, d.reasons.map(function (x) { return h('li', null, h('code', { text: x.rule || '' }), ' ', x.message || ''); })) : null,
          c.approvals.map(function (a) { return h('div', { class: 'approval-line', text: 'approval ' + a.type + (a.by ? ' by ' + a.by : '') + (a.comment ? ': ' + a.comment : '') + ' (' + clock(a.at) + ')' }); }),
          c.completed ? h('div', { text: 'completed: ' + c.completed.outcome + ' in ' + ms(c.completed.duration_ms) }) : null);
      }))
    ];
  }

  function openTrace(id) {
    var dialog = $('trace');
    fill($('trace-body'), h('p', { text: 'Loading\u2026' }));
    $('trace-title').textContent = 'Session ' + short(id);
    dialog.setAttribute('data-session-id', id);
    if (!dialog.open) dialog.showModal();
    api('/admin/sessions/' + encodeURIComponent(id)).then(function (body) { fill($('trace-body'), traceView(body)); })
      .catch(function (e) { fill($('trace-body'), h('p', { class: 'bad', text: e.message })); });
  }
  $('trace-close').addEventListener('click', function () { $('trace').close(); });
  $('trace-json').addEventListener('click', function () { var id = $('trace').getAttribute('data-session-id'); download('/admin/audit/report?format=json&download=1&session=' + encodeURIComponent(id), 'warden-session-' + short(id) + '.json'); });
  $('trace-csv').addEventListener('click', function () { var id = $('trace').getAttribute('data-session-id'); download('/admin/audit/report?format=csv&session=' + encodeURIComponent(id), 'warden-session-' + short(id) + '.csv'); });
  $('trace-print').addEventListener('click', function () { printOnly('trace'); });

  function printOnly(which) {
    document.body.setAttribute('data-print', which);
    window.print();
  }
  window.addEventListener('afterprint', function () { document.body.removeAttribute('data-print'); });

  function reportQuery(format) {
    var q = ['format=' + format];
    var sid = $('report-session').value.trim();
    var from = $('report-from').value;
    var to = $('report-to').value;
    if (sid) q.push('session=' + encodeURIComponent(sid));
    if (from) q.push('from=' + encodeURIComponent(new Date(from).toISOString()));
    if (to) q.push('to=' + encodeURIComponent(new Date(to).toISOString()));
    return '/admin/audit/report?' + q.join('&');
  }

  $('report-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    fill($('report-body'), h('p', { text: 'Loading\u2026' }));
    api(reportQuery('json')).then(function (r) {
      state.verify = r.verification;
      renderVerify();
      $('report-actions').hidden = false;
      fill($('report-body'), [
        h('p', { class: 'chain ' + (r.verification.ok ? 'good' : 'bad'), role: 'status', id: 'report-chain', text: verifyText(r.verification) }),
        h('p', { text: 'Generated ' + when(r.generated_at) + (r.session ? ' for session ' + r.session : '') + (r.range.from ? ' from ' + when(r.range.from) : '') + (r.range.to ? ' to ' + when(r.range.to) : '') + '.' }),
        h('p', { text: r.records + ' records (seq ' + (r.first_seq || '\u2014') + '\u2013' + (r.last_seq || '\u2014') + ') \u00b7 ' + r.sessions.length + ' sessions \u00b7 ' + r.totals.calls + ' calls: ' + r.totals.allowed + ' allowed, ' + r.totals.denied + ' denied, ' + r.totals.succeeded + ' succeeded, ' + r.totals.failed + ' failed' }),
        r.sessions.length ? table(['Session', 'Principal', 'Opened', 'Calls', 'Allowed', 'Denied'], r.sessions.map(function (x) {
          return [h('button', { type: 'button', class: 'link', onclick: function () { openTrace(x.session_id); }, text: short(x.session_id) }),
            (x.opened && x.opened.principal && x.opened.principal.sub) || '?', x.opened ? when(x.opened.at) : '\u2014', x.totals.calls, x.totals.allowed, x.totals.denied];
        }), 'Sessions in the report') : h('p', { class: 'empty', text: 'No records match.' })
      ]);
    }).catch(function (e) { fill($('report-body'), h('p', { class: 'bad', text: e.message })); });
  });
  $('report-csv').addEventListener('click', function () { download(reportQuery('csv'), 'warden-audit.csv'); });
  $('report-json').addEventListener('click', function () { download(reportQuery('json') + '&download=1', 'warden-audit.json'); });
  $('report-print').addEventListener('click', function () { printOnly('report'); });

  start();
})();
`;
