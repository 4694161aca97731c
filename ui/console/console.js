// The audit console (GET /ui/): a client of Verity's HTTP API like any other, in the browser. It
// calls the API with the user's credentials (a bearer token kept in sessionStorage, or the
// browser's own basic-auth prompt), so roles and the read audit apply. Every value that comes from
// the API is inserted with textContent or DOM properties, never parsed as HTML, and the only links
// built from data are "#/..." routes of this page. State lives in the URL's hash
// (#/search?model=...&where=...&cursor=...), so a view is a shareable link and back/forward work.
(function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const el = (tag, text, cls) => {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  };
  const clear = (e) => { while (e.firstChild) e.removeChild(e.firstChild); return e; };
  const utc = (iso) => (typeof iso === 'string' && iso ? iso.replace('T', ' ').replace(/Z$/, '') + ' UTC' : '');
  const num = (x) => (typeof x === 'number' ? (Number.isInteger(x) ? x.toLocaleString('en-US') : String(Number(x.toPrecision(6)))) : '');
  const short = (v, n) => {
    const s = typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v);
    return s.length > (n || 120) ? s.slice(0, (n || 120) - 1) + '\u2026' : s;
  };
  const enc = encodeURIComponent;
  // A query string of the non-empty members of `params`.
  const qs = (params) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, v);
    return p.toString();
  };
  const TOKEN_KEY = 'verity.token';
  const PAGE = 50;
  const state = { seq: 0, search: null, exportAbort: null };
  const status = (msg) => { $('status').textContent = msg || ''; };
  // What tests and scripts read: the current view once drawn, the last export.
  const hooks = window.verityConsole = { ready: false, view: '', charts: 0, lastExport: null };

  // ---- API -------------------------------------------------------------------------------------
  async function api(path, opts) {
    const o = opts || {};
    const headers = { Accept: o.accept || 'application/json' };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = 'Bearer ' + token;
    const r = await fetch(path, { method: o.method || 'GET', headers, signal: o.signal, credentials: 'same-origin', cache: 'no-store' });
    const out = { status: r.status, headers: r.headers, body: '', json: null };
    if (o.blob && r.status === 200) {
      out.blob = await r.blob();
      return out;
    }
    out.body = await r.text();
    if ((r.headers.get('Content-Type') || '').startsWith('application/json')) {
      try { out.json = JSON.parse(out.body); } catch (e) { out.json = null; }
    }
    return out;
  }
  const reason = (r) => ((r.json && r.json.error && r.json.error.reason) || r.body || '').toString().trim();
  function problem(r) {
    if (r.status === 401) {
      return 'Verity needs credentials (401): enter an API token above, or sign in when the browser asks for a user and password.';
    }
    if (r.status === 403) return 'Not allowed (403): ' + reason(r);
    return 'The API answered ' + r.status + ': ' + reason(r);
  }

  // ---- masked values and documents --------------------------------------------------------------
  const metaToken = document.querySelector('meta[name="verity-redact-token"]');
  const redactToken = metaToken ? metaToken.getAttribute('content') : '[REDACTED]';
  const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const tokenRe = new RegExp('hmac:[0-9a-f]{24}' + (redactToken ? '|' + escapeRe(redactToken) : '') + '|\\*{3,}', 'g');
  // A string as text nodes, with every masking token in a <mark>: the text is the value as stored.
  function masked(parent, s) {
    let at = 0;
    tokenRe.lastIndex = 0;
    for (let m = tokenRe.exec(s); m; m = tokenRe.exec(s)) {
      if (m.index > at) parent.appendChild(document.createTextNode(s.slice(at, m.index)));
      const mark = el('mark', m[0], 'token');
      mark.title = m[0].startsWith('hmac:') ? 'masked: keyed hash' : m[0].startsWith('*') ? 'masked: partly hidden' : 'masked: redacted';
      parent.appendChild(mark);
      at = m.index + m[0].length;
    }
    if (at < s.length) parent.appendChild(document.createTextNode(s.slice(at)));
    return parent;
  }
  const pointer = (path, key) => path + '/' + String(key).replace(/~/g, '~0').replace(/\//g, '~1');
  // A JSON value as nested lists. Every leaf carries its JSON pointer (data-path) and shows the
  // value itself as text (strings without quotes, others as JSON), which tests compare with the API.
  function tree(v, path) {
    if (v !== null && typeof v === 'object') {
      const ul = el('ul');
      ul.dataset.path = path;
      const entries = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
      if (!entries.length) ul.appendChild(el('li', Array.isArray(v) ? '[]' : '{}', 'literal'));
      for (const [k, x] of entries) {
        const li = el('li');
        const key = masked(el('span', undefined, 'key'), Array.isArray(v) ? '[' + k + ']' : String(k));
        li.append(key, document.createTextNode(': '), tree(x, pointer(path, k)));
        ul.appendChild(li);
      }
      return ul;
    }
    const leaf = typeof v === 'string' ? masked(el('span', undefined, 'string'), v)
      : el('span', JSON.stringify(v), typeof v === 'number' ? 'number' : 'literal');
    leaf.dataset.path = path;
    leaf.dataset.leaf = 'true';
    return leaf;
  }
  function pairs(dl, rows) {
    clear(dl);
    for (const [k, v] of rows) {
      if (v === undefined || v === null || v === '') continue;
      const dd = el('dd');
      if (v instanceof Node) dd.appendChild(v); else masked(dd, String(v));
      dl.append(el('dt', k), dd);
    }
  }

  // ---- views -----------------------------------------------------------------------------------
  const views = ['search', 'prediction', 'models', 'model', 'audit'];
  function show(view) {
    for (const v of views) $('view-' + v).hidden = v !== view;
    for (const [nav, vs] of [['nav-search', ['search', 'prediction']], ['nav-models', ['models', 'model']], ['nav-audit', ['audit']]]) {
      if (vs.includes(view)) $(nav).setAttribute('aria-current', 'page'); else $(nav).removeAttribute('aria-current');
    }
  }
  function done(view, extra) {
    Object.assign(hooks, { ready: true, view }, extra || {});
    document.documentElement.dataset.view = view;
    document.documentElement.dataset.ready = 'true';
  }
  function parseHash() {
    const h = location.hash.replace(/^#\/?/, '');
    const q = h.indexOf('?');
    const path = q < 0 ? h : h.slice(0, q);
    const params = new URLSearchParams(q < 0 ? '' : h.slice(q + 1));
    const parts = path.split('/');
    return { view: parts[0] || 'search', arg: parts.length > 1 ? decodeURIComponent(parts.slice(1).join('/')) : '', params };
  }
  const hashOf = (view, params) => {
    const s = qs(params);
    return '#/' + view + (s ? '?' + s : '');
  };

  async function route() {
    const seq = ++state.seq;
    hooks.ready = false;
    document.documentElement.dataset.ready = 'false';
    status('');
    const { view, arg, params } = parseHash();
    const current = () => seq === state.seq;
    try {
      if (view === 'prediction' && arg) await showPrediction(arg, current);
      else if (view === 'models') await showModels(current);
      else if (view === 'model' && arg) await showModel(arg, params, current);
      else if (view === 'audit') await showAudit(params, current);
      else await showSearch(params, current);
    } catch (e) {
      if (current()) { status('Error: ' + (e && e.message ? e.message : e)); done(view); }
    }
  }

  // ---- search ----------------------------------------------------------------------------------
  const SEARCH_KEYS = ['model', 'version', 'from', 'to', 'where', 'order', 'limit'];
  let modelNamesLoaded = false;
  async function loadModelNames() {
    if (modelNamesLoaded) return;
    modelNamesLoaded = true;
    const r = await api('/v1/models');
    if (r.status !== 200 || !r.json) { modelNamesLoaded = false; return; }
    const list = clear($('model-names'));
    for (const m of r.json.models || []) { const o = el('option'); o.value = m.model; list.appendChild(o); }
  }
  function whereError(r, where) {
    const box = $('s-where-error');
    const input = $('s-where');
    const pos = parseInt(r.headers.get('X-Verity-Error-Position') || '', 10);
    $('s-where-message').textContent = reason(r);
    // The position counts UTF-8 bytes: find the character it falls on.
    let index = 0;
    if (!Number.isNaN(pos)) {
      const bytes = new TextEncoder();
      while (index < where.length && bytes.encode(where.slice(0, index + 1)).length <= pos) index++;
    }
    $('s-where-caret').textContent = Number.isNaN(pos) ? '' : where + '\n' + ' '.repeat(index) + '^ position ' + pos;
    box.hidden = false;
    box.dataset.position = Number.isNaN(pos) ? '' : String(pos);
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    input.setSelectionRange(index, index);
  }
  function searchQuery(params) {
    const q = {};
    for (const k of SEARCH_KEYS) q[k] = params.get(k) || '';
    return q;
  }
  async function showSearch(params, current) {
    show('search');
    document.title = 'Verity: search';
    const q = searchQuery(params);
    for (const k of SEARCH_KEYS) if ($('s-' + k)) $('s-' + k).value = q[k] || (k === 'order' ? 'asc' : k === 'limit' ? String(PAGE) : '');
    $('s-where-error').hidden = true;
    $('s-where').removeAttribute('aria-invalid');
    const table = $('s-results');
    loadModelNames().catch(() => {});
    const ran = [...params.keys()].length > 0;
    $('s-next').disabled = $('s-first').disabled = true;
    if (!state.exportAbort && JSON.stringify(state.search) !== JSON.stringify(ran ? q : null)) {
      // Another query: the last export's result belongs to the one before.
      const save = $('s-export-save');
      if (save.href) URL.revokeObjectURL(save.href);
      save.removeAttribute('href');
      save.hidden = true;
      $('s-export-progress').textContent = '';
    }
    state.search = ran ? q : null;
    if (!ran) {
      table.hidden = true;
      $('s-summary').textContent = 'Name a model, a time window or a query, then Search.';
      return done('search', { hits: 0 });
    }
    const cursor = params.get('cursor') || '';
    const page = parseInt(params.get('page') || '1', 10) || 1;
    const api_params = { model: q.model, version: q.version, from: q.from, to: q.to, where: q.where,
      order: q.order === 'desc' ? 'desc' : '', limit: q.limit || PAGE, cursor, format: 'json' };
    status('Searching\u2026');
    const r = await api('/v1/predictions?' + qs(api_params));
    if (!current()) return;
    status('');
    const body = clear(table.tBodies[0]);
    if (r.status === 400 && r.headers.get('X-Verity-Error-Position') !== null) {
      table.hidden = true;
      $('s-summary').textContent = '';
      whereError(r, q.where);
      return done('search', { hits: 0, error: 'query' });
    }
    if (r.status !== 200 || !r.json) {
      table.hidden = true;
      $('s-summary').textContent = problem(r);
      return done('search', { hits: 0, error: String(r.status) });
    }
    const hits = r.json.hits || [];
    for (const h of hits) {
      const tr = body.insertRow();
      const a = el('a', h.request_id);
      a.href = '#/prediction/' + enc(h.request_id);
      tr.insertCell().appendChild(a);
      const doc = h.document || {};
      const outputs = doc.prediction !== undefined ? doc.prediction : doc.outputs !== undefined ? doc.outputs : doc.output;
      const predicted = outputs && typeof outputs === 'object' && !Array.isArray(outputs)
        ? (outputs.label !== undefined ? outputs.label : outputs.class !== undefined ? outputs.class : outputs.value !== undefined ? outputs.value : outputs)
        : outputs;
      let confidence = doc.confidence;
      if (confidence === undefined && outputs && typeof outputs === 'object') confidence = outputs.confidence !== undefined ? outputs.confidence : outputs.score;
      const label = h.label && h.label.document ? (h.label.document.ground_truth !== undefined ? h.label.document.ground_truth : h.label.document.label) : undefined;
      for (const [v, cls] of [[utc(h.timestamp)], [h.model], [h.version], [h.erased ? '(erased)' : short(predicted)], [typeof confidence === 'number' ? num(confidence) : short(confidence), 'num'], [short(label)]]) {
        const td = tr.insertCell();
        masked(td, v === undefined ? '' : String(v));
        if (cls) td.className = cls;
      }
    }
    table.hidden = hits.length === 0;
    const first = (page - 1) * (parseInt(q.limit, 10) || PAGE);
    $('s-caption').textContent = 'Predictions ' + (first + 1) + ' to ' + (first + hits.length) + ', ' +
      (q.order === 'desc' ? 'newest' : 'oldest') + ' first; times in UTC.';
    $('s-summary').textContent = 'Page ' + page + ': ' + hits.length + ' predictions shown, ' + num(r.json.scanned || 0) +
      ' records read' + (r.json.truncated ? ' (the page stopped at its read budget: the next page goes on)' : '') +
      (r.json.next_cursor ? '; more on the next page.' : '; no more matches.');
    const next = r.json.next_cursor || '';
    $('s-next').disabled = !next;
    $('s-next').dataset.cursor = next;
    $('s-next').dataset.page = String(page + 1);
    $('s-first').disabled = !cursor;
    done('search', { hits: hits.length, page, next: !!next });
  }
  function submitSearch(extra) {
    const p = {};
    for (const k of SEARCH_KEYS) p[k] = $('s-' + k).value.trim();
    if (p.order === 'asc') p.order = '';
    if (p.limit === String(PAGE)) p.limit = '';
    const h = hashOf('search', Object.assign(p, extra || {}));
    if (h === location.hash) route(); else location.hash = h;
  }
  $('search-form').addEventListener('submit', (e) => { e.preventDefault(); submitSearch(); });
  $('s-next').addEventListener('click', () => {
    const p = parseHash().params;
    p.set('cursor', $('s-next').dataset.cursor);
    p.set('page', $('s-next').dataset.page);
    location.hash = '#/search?' + p.toString();
  });
  $('s-first').addEventListener('click', () => {
    const p = parseHash().params;
    p.delete('cursor');
    p.delete('page');
    location.hash = '#/search?' + p.toString();
  });

  // Export: every page of the search through the cursor, each page appended to a Blob as it
  // arrives (10,000 a request); the page's own framing (NDJSON's _meta line, CSV's header after the
  // first page) is left out, so the file is what `verity export` writes.
  async function exportAll(format) {
    const q = state.search;
    if (!q) { $('s-export-progress').textContent = 'Run a search first: the export uses its query.'; return; }
    if (state.exportAbort) return;
    const ctrl = new AbortController();
    state.exportAbort = ctrl;
    const progress = $('s-export-progress');
    const save = $('s-export-save');
    if (save.href) URL.revokeObjectURL(save.href);
    save.hidden = true;
    save.removeAttribute('href');
    $('s-export-cancel').hidden = false;
    $('s-export-ndjson').disabled = $('s-export-csv').disabled = true;
    const parts = [];
    let count = 0, scanned = 0, cursor = '', header = null, pages = 0;
    try {
      do {
        const p = { model: q.model, version: q.version, from: q.from, to: q.to, where: q.where,
          order: q.order === 'desc' ? 'desc' : '', format, limit: 'max', cursor };
        const r = await api('/v1/predictions?' + qs(p), { signal: ctrl.signal, accept: '*/*' });
        if (r.status !== 200) throw new Error(problem(r));
        let text = r.body;
        if (format === 'ndjson') {
          const cut = text.lastIndexOf('{"_meta"');
          if (cut >= 0) text = text.slice(0, cut);
        } else {
          const nl = text.indexOf('\n');
          const first = nl < 0 ? text : text.slice(0, nl + 1);
          if (header === null) header = first; else if (first === header) text = text.slice(first.length);
        }
        if (text) parts.push(text);
        count += parseInt(r.headers.get('X-Verity-Matched') || '0', 10);
        scanned += parseInt(r.headers.get('X-Verity-Scanned') || '0', 10);
        pages++;
        cursor = r.headers.get('X-Verity-Next-Cursor') || '';
        progress.textContent = num(count) + ' predictions exported (' + num(scanned) + ' records read, ' + pages + (pages === 1 ? ' request' : ' requests') + ')' + (cursor ? '\u2026' : '.');
      } while (cursor);
      const blob = new Blob(parts, { type: format === 'csv' ? 'text/csv' : 'application/x-ndjson' });
      hooks.lastExport = { format, count, pages, blob };
      save.href = URL.createObjectURL(blob);
      save.download = 'verity-export-' + (q.model || 'all') .replace(/[^A-Za-z0-9_.-]/g, '_') + '.' + format;
      save.textContent = 'Save the export (' + num(count) + ' predictions, ' + num(Math.ceil(blob.size / 1024)) + ' KiB)';
      save.hidden = false;
      save.focus();
    } catch (e) {
      progress.textContent = ctrl.signal.aborted ? 'Export cancelled after ' + num(count) + ' predictions; nothing was saved.' : 'Export failed: ' + (e.message || e);
    } finally {
      state.exportAbort = null;
      $('s-export-cancel').hidden = true;
      $('s-export-ndjson').disabled = $('s-export-csv').disabled = false;
    }
  }
  $('s-export-ndjson').addEventListener('click', () => exportAll('ndjson'));
  $('s-export-csv').addEventListener('click', () => exportAll('csv'));
  $('s-export-cancel').addEventListener('click', () => { if (state.exportAbort) state.exportAbort.abort(); });

  // ---- a prediction ----------------------------------------------------------------------------
  let explanationChart = null;
  // Feature importances from the document's explanation: an object of numbers (possibly under
  // feature_importances, shap_values, importances) or an array of {feature|name, importance|value}.
  function importances(doc) {
    const e = doc.explanations !== undefined ? doc.explanations : doc.explainability_data;
    if (!e || typeof e !== 'object') return [];
    const candidates = [e.feature_importances, e.feature_importance, e.shap_values, e.importances, e];
    for (const c of candidates) {
      if (!c || typeof c !== 'object') continue;
      let out = [];
      if (Array.isArray(c)) {
        for (const x of c) {
          if (!x || typeof x !== 'object') continue;
          const name = x.feature !== undefined ? x.feature : x.name;
          const v = [x.importance, x.value, x.weight, x.shap].find((y) => typeof y === 'number');
          if (name !== undefined && v !== undefined) out.push([String(name), v]);
        }
      } else {
        out = Object.entries(c).filter(([, v]) => typeof v === 'number');
      }
      if (out.length) return out.sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
    }
    return [];
  }
  async function showPrediction(id, current) {
    show('prediction');
    document.title = 'Verity: prediction';
    $('p-title').textContent = 'Prediction ' + id;
    $('p-body').hidden = true;
    $('p-error').hidden = true;
    $('p-verify-result').textContent = '';
    const r = await api('/v1/predictions/' + enc(id));
    if (!current()) return;
    if (r.status !== 200 || !r.json) {
      $('p-error').textContent = r.status === 404 ? 'No prediction is stored under this request id.' : problem(r);
      $('p-error').hidden = false;
      return done('prediction', { found: false });
    }
    const rec = r.json;
    $('p-title').textContent = 'Prediction ' + rec.request_id;
    pairs($('p-meta'), [['request id', rec.request_id], ['model', rec.model], ['version', rec.version],
      ['time (UTC)', utc(rec.timestamp)], ['stored at (UTC)', utc(rec.ingest_time)], ['input', rec.input],
      ['masking policy', rec.masking_version], ['erased at (UTC)', rec.erased ? utc(rec.erased_at) : ''],
      ['erasure audit id', rec.erased ? rec.erasure_audit_id : '']]);
    $('p-policy').textContent = rec.masking_version || '';
    // Integrity: where the record sits in its partition's hash chain, and the partition's seal.
    const integrity = [['partition', rec.partition], ['sequence', rec.sequence], ['record digest', rec.digest],
      ['chain link (its first 8 bytes, as stored)', rec.chain_link || 'none']];
    const parts = await api('/v1/partitions');
    if (!current()) return;
    const part = parts.json && (parts.json.partitions || []).find((p) => p.partition === rec.partition);
    if (part) {
      integrity.push(['tier', part.tier], ['records in partition', num(part.records)],
        ['seal', part.sealed ? 'sealed (' + part.seals + (part.seals === 1 ? ' seal' : ' seals') + ')' : 'open: the day has not been sealed yet'],
        ['chain head', part.head], ['legal holds', (part.holds || []).join(', ') || 'none']);
    } else if (parts.status !== 200) {
      integrity.push(['partition state', problem(parts)]);
    }
    pairs($('p-integrity'), integrity);
    $('p-verify').dataset.partition = rec.partition;
    // The label in effect and the corrections it replaced.
    const label = rec.label;
    $('p-label-none').hidden = !!label;
    const ld = (label && label.document) || {};
    const truth = ld.ground_truth !== undefined ? ld.ground_truth : ld.label !== undefined ? ld.label : ld.actual;
    pairs($('p-label'), label ? [['ground truth', short(truth, 400)], ['label time (UTC)', utc(label.timestamp)],
      ['received (UTC)', utc(label.ingest_time)], ['stored in', label.partition + ' #' + label.sequence], ['digest', label.digest]] : []);
    const history = rec.label_history || [];
    const hb = clear($('p-history').tBodies[0]);
    for (const h of history) {
      const d = h.document || {};
      const t = d.ground_truth !== undefined ? d.ground_truth : d.label !== undefined ? d.label : d.actual;
      const tr = hb.insertRow();
      for (const v of [short(t, 400), utc(h.timestamp), utc(h.ingest_time), h.partition + ' #' + h.sequence]) masked(tr.insertCell(), String(v));
    }
    $('p-history').hidden = history.length === 0;
    // The explanation as a horizontal bar chart (Chart.js draws the names as canvas text).
    if (explanationChart) { explanationChart.destroy(); explanationChart = null; }
    const imp = rec.document ? importances(rec.document) : [];
    const top = imp.slice(0, 30);
    $('p-explanation-chart').hidden = top.length === 0;
    $('p-explanation-note').textContent = top.length
      ? 'Feature importances from the document\'s explanation' + (imp.length > top.length ? ' (the ' + top.length + ' largest of ' + imp.length + ')' : '') + ', largest magnitude first.'
      : 'The document holds no feature importances (explanations or explainability_data).';
    $('p-body').hidden = false;
    if (top.length) {
      $('p-explanation-chart').style.height = Math.max(160, 28 * top.length + 60) + 'px';
      explanationChart = new window.Chart($('p-explanation'), {
        type: 'bar',
        data: { labels: top.map(([k]) => k), datasets: [{ label: 'importance', data: top.map(([, v]) => v),
          backgroundColor: top.map(([, v]) => (v < 0 ? '#d62728' : '#1f77b4')) }] },
        options: { indexAxis: 'y', plugins: { legend: { display: false } }, scales: { x: { title: { display: true, text: 'importance' } } } },
      });
    }
    clear($('p-document')).appendChild(rec.document !== undefined ? tree(rec.document, '') : el('p', 'Erased: the document is gone; the record stays in the chain as a tombstone.', 'note'));
    $('p-source-block').hidden = rec.source === undefined;
    clear($('p-source'));
    if (rec.source !== undefined) $('p-source').appendChild(tree(rec.source, ''));
    done('prediction', { found: true, record: rec, importances: top.length, charts: top.length ? 1 : 0 });
  }
  $('p-verify').addEventListener('click', async () => {
    const p = $('p-verify').dataset.partition;
    const out = $('p-verify-result');
    const button = $('p-verify');
    button.disabled = true;
    out.className = '';
    out.textContent = 'Recomputing the hash chain of ' + p + '\u2026';
    try {
      const r = await api('/v1/verify?partition=' + enc(p), { method: 'POST' });
      if (r.status !== 200 || !r.json) { out.textContent = problem(r); out.className = 'bad'; return; }
      const part = (r.json.partitions || []).find((x) => x.partition === p) || {};
      if (r.json.ok && part.ok !== false) {
        out.textContent = 'Intact: ' + num(part.records || 0) + ' records of ' + p + ' recomputed, every link and seal matches.';
        out.className = 'ok';
      } else {
        const b = part.first_break || {};
        out.textContent = 'Broken: the chain of ' + p + ' first breaks at sequence ' + b.sequence + ': ' + b.reason;
        out.className = 'bad';
      }
      out.dataset.ok = String(!!r.json.ok);
    } catch (e) {
      out.textContent = 'Verification failed: ' + (e.message || e);
    } finally {
      button.disabled = false;
    }
  });

  // ---- models ----------------------------------------------------------------------------------
  let models = null;
  async function loadModels() {
    const r = await api('/v1/models');
    if (r.status !== 200 || !r.json) throw new Error(problem(r));
    models = r.json.models || [];
    return models;
  }
  async function showModels(current) {
    show('models');
    document.title = 'Verity: models';
    const list = await loadModels();
    if (!current()) return;
    const body = clear($('m-list').tBodies[0]);
    for (const m of list) {
      const tr = body.insertRow();
      const a = el('a', m.model);
      a.href = hashOf('model/' + enc(m.model), {});
      tr.insertCell().appendChild(a);
      for (const v of [m.task, num(m.predictions), num(m.labelled), (m.versions || []).map((x) => x.version).join(', '), utc(m.first_prediction), utc(m.last_prediction)]) masked(tr.insertCell(), String(v === undefined ? '' : v));
    }
    done('models', { models: list.length });
  }
  function modelQuery(name, params) {
    return { model: name, version: params.get('version') || '', window: params.has('window') ? params.get('window') : '30d' };
  }
  async function showModel(name, params, current) {
    show('model');
    const q = modelQuery(name, params);
    $('m-error').hidden = true;
    $('m-save').hidden = true;
    const list = models || await loadModels().catch(() => []);
    if (!current()) return;
    const m = list.find((x) => x.model === name);
    const select = clear($('m-version'));
    const all = el('option', 'all versions');
    all.value = '';
    select.appendChild(all);
    for (const v of (m && m.versions) || []) { const o = el('option', v.version || '(none)'); o.value = v.version; select.appendChild(o); }
    select.value = q.version;
    const windowParam = q.window === 'all' ? '' : q.window;
    $('m-window').value = windowParam;
    const p = { version: q.version, window: windowParam };
    const r = await api('/v1/models/' + enc(name) + '/curves?' + qs(p));
    if (!current()) return;
    if (r.status !== 200 || !r.json) {
      $('m-error').textContent = problem(r);
      $('m-error').hidden = false;
      $('m-report').hidden = true;
      return done('model', { charts: 0 });
    }
    $('m-report').hidden = false;
    const charts = window.VerityCharts.render(r.json);
    done('model', { charts, curves: r.json });
  }
  $('model-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const { arg } = parseHash();
    location.hash = hashOf('model/' + enc(arg), { version: $('m-version').value, window: $('m-window').value === '30d' ? '' : $('m-window').value || 'all' });
  });
  $('m-download').addEventListener('click', async () => {
    const { arg, params } = parseHash();
    const q = modelQuery(arg, params);
    const r = await api('/v1/models/' + enc(arg) + '/report.html?' + qs({ version: q.version, window: q.window === 'all' ? '' : q.window }), { blob: true, accept: 'text/html' });
    if (r.status !== 200) { status(problem(r)); return; }
    const save = $('m-save');
    if (save.href) URL.revokeObjectURL(save.href);
    save.href = URL.createObjectURL(r.blob);
    save.download = 'verity-report-' + arg.replace(/[^A-Za-z0-9_.-]/g, '_') + '.html';
    save.textContent = 'Save the report (' + num(Math.ceil(r.blob.size / 1024)) + ' KiB)';
    save.hidden = false;
    save.focus();
  });

  // ---- audit -----------------------------------------------------------------------------------
  function auditKind() {
    const kind = $('a-kind').value;
    for (const d of document.querySelectorAll('#audit-form [data-kind]')) d.hidden = d.dataset.kind !== kind;
    $('a-help').textContent = kind === 'read'
      ? 'Every read of prediction data: searches, exports, lookups, model reports, and reading this trail (this view is recorded too). Filtered by the API; newest entries last.'
      : 'Erasures, legal holds and retention drops. The filter applies to the entries of the page shown.';
  }
  $('a-kind').addEventListener('change', auditKind);
  async function showAudit(params, current) {
    show('audit');
    document.title = 'Verity: audit';
    const kind = params.get('kind') === 'admin' ? 'admin' : 'read';
    $('a-kind').value = kind;
    for (const k of ['from', 'to', 'actor', 'filter']) $('a-' + k).value = params.get(k) || '';
    auditKind();
    const at = params.get('at') || '';
    const path = kind === 'read'
      ? '/v1/audit?' + qs({ kind: 'read', from: params.get('from'), to: params.get('to'), actor: params.get('actor'), after: at, limit: PAGE })
      : '/v1/audit?' + qs({ from: at, limit: PAGE });
    $('a-next').disabled = true;
    $('a-first').disabled = !at;
    const r = await api(path);
    if (!current()) return;
    const body = clear($('a-results').tBodies[0]);
    if (r.status !== 200 || !r.json) {
      status(problem(r));
      $('a-next').disabled = true;
      return done('audit', { entries: 0, error: String(r.status) });
    }
    const entries = r.json.entries || [];
    const filter = (params.get('filter') || '').toLowerCase();
    let shown = 0;
    for (const e of entries) {
      const what = kind === 'read' ? e.endpoint : e.action;
      if (filter && !(String(what || '') + ' ' + String(e.actor || '')).toLowerCase().includes(filter)) continue;
      const rest = Object.entries(e).filter(([k]) => !['id', 'time', 'actor', 'action', 'endpoint', 'kind'].includes(k))
        .map(([k, v]) => k + '=' + (typeof v === 'string' ? v : JSON.stringify(v))).join('  ');
      const tr = body.insertRow();
      for (const v of [e.id, utc(e.time), e.actor, what, rest]) masked(tr.insertCell(), String(v === undefined ? '' : v));
      shown++;
    }
    let next = '';
    if (kind === 'read' && r.json.next_after !== null && r.json.next_after !== undefined) next = String(r.json.next_after);
    if (kind === 'admin' && entries.length === PAGE) next = String(entries[entries.length - 1].id + 1);
    $('a-next').disabled = !next;
    $('a-next').dataset.at = next;
    $('a-first').disabled = !at;
    if (!entries.length) status('No entries' + (at ? ' on this page.' : ' in this window.'));
    done('audit', { entries: shown });
  }
  function auditHash(at) {
    const kind = $('a-kind').value;
    return hashOf('audit', kind === 'read'
      ? { kind: 'read', from: $('a-from').value.trim(), to: $('a-to').value.trim(), actor: $('a-actor').value.trim(), at }
      : { kind: 'admin', filter: $('a-filter').value.trim(), at });
  }
  $('audit-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const h = auditHash('');
    if (h === location.hash) route(); else location.hash = h;
  });
  $('a-next').addEventListener('click', () => { location.hash = auditHash($('a-next').dataset.at); });
  $('a-first').addEventListener('click', () => { location.hash = auditHash(''); });

  // ---- credentials -----------------------------------------------------------------------------
  function tokenState() {
    $('token-state').textContent = sessionStorage.getItem(TOKEN_KEY) ? 'token set (this tab only)' : 'no token';
  }
  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const t = $('token').value.trim();
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
    $('token').value = '';
    tokenState();
    modelNamesLoaded = false;
    models = null;
    route();
  });
  $('token-forget').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    tokenState();
    route();
  });

  tokenState();
  window.addEventListener('hashchange', route);
  route();
}());
