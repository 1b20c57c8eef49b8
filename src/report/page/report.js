'use strict';

// Draws a maestro run report from the JSON embedded in #maestro-data.
// Everything is built in bulk (one HTML string per section) and wired with
// one delegated listener per area, so that 10,000 attempts stay quick.
(function () {
  const FORMAT = 'maestro-report';
  const VERSION = 1;

  const STATUSES = ['ok', 'failed', 'timed_out', 'interrupted', 'spawn_failed',
    'missing_outputs', 'bad_output_file', 'running', 'out_of_memory', 'node_failure',
    'boot_failure', 'preempted', 'cancelled', 'deadline', 'vanished'];

  const NOT_RUN_REASONS = [
    ['dep_failed', 'a task it depends on failed'],
    ['cancelled', 'the run stopped before it started'],
    ['fresh', 'already up to date'],
    ['resumed', 'done by the run this one resumed'],
    ['joblog', 'already done according to the job log'],
  ];

  // A bar's name is drawn only when the bar is at least this wide.
  const MIN_LABEL_PX = 34;
  const MIN_TICK_PX = 96;
  const MAX_PX_PER_MS = 2;
  // Browsers lay out boxes up to about 2^25 px; stay well below.
  const MAX_TRACK_PX = 4e6;
  const ZOOM_STEP = 1.6;
  // Bars are grouped by width in steps of sqrt(2) (see widthBucket), so a
  // zoom changes which names show through one stylesheet rule.
  const MAX_BUCKET = 64;
  const LABEL_CHARS = 80;
  // Rows drawn above and below the table's visible ones, and the row height
  // assumed until the first row is measured.
  const TABLE_OVERSCAN = 15;
  const ROW_H_GUESS = 30;

  const TICK_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500,
    1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5,
    36e5, 72e5, 108e5, 216e5, 432e5, 864e5];

  const $ = (id) => document.getElementById(id);

  let model = null;
  const view = {
    labelW: 0, viewW: 0, fitW: 0, trackW: 0, zoom: 1,
    bucketShown: null, labelStyle: null,
    tickFrame: 0, zoomFrame: 0, resizeFrame: 0, pendingZoom: 1, pendingAnchor: 0,
    tip: -1, tipW: 0, tipH: 0, selected: -1,
  };
  const table = {
    rows: [], sorted: [], shown: [], key: 'duration', desc: true,
    rowH: 0, first: -1, last: -1, filterFrame: 0, drawFrame: 0,
  };

  // ---------------------------------------------------------------- start

  function main() {
    try {
      const data = readData();
      model = buildModel(data);
      render();
    } catch (err) {
      showError(err instanceof ReportError ? err.message
        : 'The report could not be drawn: ' + (err && err.message ? err.message : String(err)));
    }
    document.body.dataset.renderMs = String(Math.round(performance.now()));
    document.body.dataset.ready = '1';
  }

  class ReportError extends Error {}

  function readData() {
    const node = $('maestro-data');
    let data;
    try {
      data = JSON.parse(node ? node.textContent : '');
    } catch (err) {
      throw new ReportError('The run data embedded in this page is not valid JSON (' + err.message + ').');
    }
    if (!data || typeof data !== 'object' || data.format !== FORMAT) {
      throw new ReportError('This page holds no maestro report: its data is not in the "' + FORMAT + '" format.');
    }
    if (data.version !== VERSION) {
      throw new ReportError('This report is in version ' + String(data.version) + ' of the "' + FORMAT +
        '" format; this page reads version ' + VERSION + '. Write the report again with the same maestro that shows it.');
    }
    return data;
  }

  function showError(message) {
    $('run-name').textContent = 'maestro report';
    for (const id of ['summary', 'timeline', 'tasks-section', 'not-run']) $(id).hidden = true;
    const box = document.createElement('div');
    box.className = 'notice error';
    box.id = 'load-error';
    box.setAttribute('role', 'alert');
    const h = document.createElement('h2');
    h.textContent = 'This report cannot be shown';
    const p = document.createElement('p');
    p.textContent = message;
    box.append(h, p);
    $('report').append(box);
    document.body.dataset.error = '1';
  }

  function render() {
    renderHeader();
    renderSummary();
    renderTimeline();
    renderTable();
    renderNotRun();
    wireGlobal();
  }

  // ---------------------------------------------------------------- model

  function buildModel(data) {
    const run = obj(data.run);
    const summary = obj(data.summary);
    const attempts = arr(data.attempts).map(normaliseAttempt);
    const tasks = groupTasks(attempts);
    const span = timeSpan(run, summary, attempts);
    let maxSlot = 0;
    for (const a of attempts) {
      if (a.dur === null) a.end = span;
      for (const s of a.slots) if (s > maxSlot) maxSlot = s;
    }
    return {
      version: str(data.maestro),
      run: {
        id: run.id, kind: str(run.kind) || 'run', flow: strOrNull(run.flow),
        commandLine: str(run.command_line), started: num(run.started_ms), ended: num(run.ended_ms),
        status: str(run.status) || 'running', jobs: Math.max(num(run.jobs) || 0, maxSlot),
        rows: arr(run.rows).map(str),
      },
      summary: summary,
      criticalPath: arr(data.critical_path).map(str),
      attempts: attempts,
      tasks: tasks,
      notRun: arr(data.not_run).map((n) => ({ task: str(obj(n).task), why: str(obj(n).why) })),
      span: span,
      queued: attempts.some((a) => a.queued > 0),
    };
  }

  function normaliseAttempt(raw, i) {
    const a = obj(raw);
    const start = Math.max(0, num(a.start_ms) || 0);
    const queued = Math.max(0, num(a.queued_ms) || 0);
    const dur = num(a.duration_ms);
    const slots = [];
    for (const s of arr(a.slots)) {
      if (Number.isInteger(s) && s >= 1 && !slots.includes(s)) slots.push(s);
    }
    return {
      i: i, task: str(a.task), number: num(a.number) || 1, final: a.final === true,
      slots: slots, start: start, queued: queued, ran: start + queued,
      dur: dur === null ? null : Math.max(0, dur),
      end: start + queued + (dur === null ? 0 : Math.max(0, dur)),
      status: str(a.status) || 'unknown', exit: num(a.exit_code), signal: strOrNull(a.signal),
      detail: strOrNull(a.detail), command: str(a.command), cpu: num(a.cpu_ms), rss: num(a.max_rss_kib),
      job: strOrNull(a.job_id), worker: strOrNull(a.worker),
      log: strOrNull(a.log), tail: str(a.log_tail), logBytes: num(a.log_bytes),
      critical: a.critical === true, tries: 1, taskIndex: 0,
    };
  }

  // One entry per task, pointing at its final attempt (its last one when no
  // attempt says it is final, as for a run that was killed mid-retry).
  function groupTasks(attempts) {
    const byName = new Map();
    for (const a of attempts) {
      let t = byName.get(a.task);
      if (!t) {
        t = { name: a.task, attempts: [], final: -1 };
        byName.set(a.task, t);
      }
      t.attempts.push(a.i);
      if (a.final) t.final = a.i;
    }
    const tasks = Array.from(byName.values());
    tasks.forEach((t, k) => {
      if (t.final < 0) t.final = t.attempts[t.attempts.length - 1];
      for (const i of t.attempts) {
        attempts[i].tries = t.attempts.length;
        attempts[i].taskIndex = k;
      }
    });
    return tasks;
  }

  // The length of the time axis: the run's wall time, or longer if an
  // attempt (or the recorded end) goes past it; never zero.
  function timeSpan(run, summary, attempts) {
    let span = num(summary.wall_ms) || 0;
    const started = num(run.started_ms);
    const ended = num(run.ended_ms);
    if (started !== null && ended !== null) span = Math.max(span, ended - started);
    for (const a of attempts) span = Math.max(span, a.end);
    return span > 0 ? span : 1;
  }

  function obj(v) { return v && typeof v === 'object' && !Array.isArray(v) ? v : {}; }
  function arr(v) { return Array.isArray(v) ? v : []; }
  function num(v) { return typeof v === 'number' && isFinite(v) ? v : null; }
  function str(v) { return v === null || v === undefined ? '' : String(v); }
  function strOrNull(v) { return v === null || v === undefined || v === '' ? null : String(v); }

  // ---------------------------------------------------------------- header and summary

  function renderHeader() {
    const run = model.run;
    $('run-name').textContent = 'maestro ' + run.kind + ' ' + str(run.id);
    const pill = $('run-status');
    pill.className = 'pill ' + statusClass(run.status);
    pill.textContent = statusWord(run.status);
    pill.hidden = false;
    $('run-command').textContent = run.commandLine;

    const meta = [];
    if (run.started !== null) {
      meta.push(metaItem('Started', fmtDate(run.started), new Date(run.started).toString()));
    }
    if (run.ended !== null) meta.push(metaItem('Ended', fmtDate(run.ended), new Date(run.ended).toString()));
    else meta.push(metaItem('Ended', run.status === 'running' ? 'still running, or maestro was stopped' : 'not recorded'));
    if (run.flow !== null) meta.push(metaItem('Flow', run.flow));
    meta.push(metaItem(run.rows.length ? 'Worker slots' : 'Job slots', String(run.jobs)));
    $('run-meta').innerHTML = meta.join('');

    $('page-foot').textContent = 'Written by maestro ' + (model.version || '(unknown version)') +
      ' · report format ' + FORMAT + ' ' + VERSION;
  }

  function metaItem(label, value, title) {
    const t = title ? ' title="' + esc(title) + '"' : '';
    return '<span class="meta-item"><span class="k">' + esc(label) + '</span> <span class="v"' + t + '>' +
      esc(value) + '</span></span>';
  }

  function renderSummary() {
    const s = model.summary;
    const jobs = model.run.jobs;
    const util = num(s.utilisation);
    const speedup = num(s.speedup);
    const cards = [
      card('Wall time', fmtDuration(num(s.wall_ms)), 'from start to end of the run'),
      card('Task time', fmtDuration(num(s.task_ms)), 'summed over all attempts'),
      card('Speedup', speedup ? speedup.toFixed(2) + '×' : '—', 'task time ÷ wall time'),
      card('Slot utilisation', util === null ? '—' : fmtPercent(util),
        'of ' + jobs + (model.run.rows.length ? ' worker' : ' job') + ' slot' + (jobs === 1 ? '' : 's') + ' × wall time',
        util === null ? '' : '<span class="meter" aria-hidden="true"><span style="width:' +
          (Math.min(1, Math.max(0, util)) * 100).toFixed(1) + '%"></span></span>'),
      countsCard(s),
      criticalCard(s),
    ];
    const el = $('summary');
    el.innerHTML = cards.join('');
    el.hidden = false;
    el.addEventListener('click', onTaskLinkClick);
  }

  function card(label, value, note, extra) {
    return '<div class="card"><div class="card-k">' + esc(label) + '</div><div class="card-v">' + esc(value) +
      '</div>' + (extra || '') + '<div class="card-n">' + esc(note) + '</div></div>';
  }

  function countsCard(s) {
    const counts = [['ok', 's-ok'], ['failed', 's-failed'], ['skipped', 's-skipped'], ['not_run', 's-notrun']];
    const items = counts.map(([key, cls]) =>
      '<li><span class="sw ' + cls + '" aria-hidden="true"></span><b>' + esc(fmtCount(s[key])) + '</b> ' +
      esc(key.replace('_', ' ')) + '</li>').join('');
    return '<div class="card card-wide"><div class="card-k">Tasks</div><ul class="counts">' + items +
      '</ul><div class="card-n">' + esc(fmtCount(s.attempts)) + ' attempt' + (s.attempts === 1 ? '' : 's') +
      ' in all</div></div>';
  }

  function criticalCard(s) {
    const path = model.criticalPath;
    const ran = new Set(model.tasks.map((t) => t.name));
    const chain = path.map((name) => ran.has(name)
      ? '<button type="button" class="link" data-task="' + esc(name) + '">' + esc(name) + '</button>'
      : '<span>' + esc(name) + '</span>').join('<span class="arrow"> → </span>');
    return '<div class="card card-crit"><div class="card-k">Critical path</div><div class="card-v">' +
      esc(fmtDuration(num(s.critical_ms))) + '</div><div class="chain">' +
      (chain || '<span class="muted">none</span>') + '</div></div>';
  }

  function onTaskLinkClick(e) {
    const link = e.target.closest('[data-task]');
    if (!link) return;
    const task = model.tasks.find((t) => t.name === link.dataset.task);
    if (task) showAttempt(task.final, true);
  }

  // ---------------------------------------------------------------- timeline

  function renderTimeline() {
    const section = $('timeline');
    section.hidden = false;
    if (!model.attempts.length) {
      $('tl-empty').hidden = false;
      for (const id of ['tl-tools', 'tl-legend', 'tl-scroll']) $(id).hidden = true;
      return;
    }
    const scroller = $('tl-scroll');
    if (model.run.rows.length) {
      const widest = Math.max(13, ...model.run.rows.map((r) => r.length));
      scroller.style.setProperty('--label-w', Math.min(260, 16 + 7 * widest) + 'px');
      document.querySelector('.tl-corner').textContent = 'worker · slot';
    }
    // Measured before the bars go in, while a layout is cheap.
    view.labelW = parseFloat(getComputedStyle(scroller).getPropertyValue('--label-w')) || 48;
    view.viewW = Math.max(100, scroller.clientWidth - view.labelW);
    view.fitW = view.viewW;
    view.labelStyle = document.createElement('style');
    document.head.append(view.labelStyle);

    $('tl-legend').innerHTML = legendHtml();
    $('tl-rows').innerHTML = rowsHtml();
    const critical = $('tl-critical');
    critical.disabled = !model.attempts.some((a) => a.critical);
    applyZoom(1);
    wireTimeline();
  }

  function rowsHtml() {
    const rows = [];
    for (let s = 0; s < model.run.jobs; s++) rows.push([]);
    for (const a of model.attempts) {
      if (!a.slots.length) continue;
      const html = barHtml(a);
      for (const s of a.slots) rows[s - 1].push(html);
    }
    // With workers, each row is a worker's slot, named.
    const names = model.run.rows;
    return rows.map((bars, k) => '<div class="tl-row"><div class="tl-label">' + esc(names[k] || String(k + 1)) +
      '</div><div class="tl-track">' + bars.join('') + '</div></div>').join('');
  }

  // An attempt that waited in a batch system's queue first: a dashed box
  // for the wait, then its bar from when it ran.
  function barHtml(a) {
    const span = model.span;
    const width = (a.end - a.ran) / span;
    let cls = 'bar ' + statusClass(a.status) + ' w' + widthBucket(width);
    if (a.critical) cls += ' crit';
    if (a.number > 1) cls += ' retry';
    if (a.dur === null) cls += ' open';
    let label = a.task.length > LABEL_CHARS ? a.task.slice(0, LABEL_CHARS) + '…' : a.task;
    if (a.number > 1) label += ' #' + a.number;
    const waitCls = 'bar queued ' + statusClass(a.status);
    const wait = a.queued > 0 ? '<div class="' + waitCls + '" data-i="' + a.i + '" style="left:' +
      pct(a.start / span) + ';width:' + pct(a.queued / span) + '"></div>' : '';
    return wait + '<div class="' + cls + '" data-i="' + a.i + '" style="left:' + pct(a.ran / span) +
      ';width:' + pct(width) + '">' + esc(label) + '</div>';
  }

  function widthBucket(fraction) {
    if (!(fraction > 0)) return MAX_BUCKET;
    return Math.max(0, Math.min(MAX_BUCKET, Math.floor(-2 * Math.log2(fraction))));
  }

  function legendHtml() {
    const seen = new Set(model.attempts.map((a) => a.status));
    const items = STATUSES.filter((s) => seen.has(s)).concat(Array.from(seen).filter((s) => !STATUSES.includes(s)))
      .map((s) => legendItem('sw ' + statusClass(s), statusWord(s)));
    if (model.attempts.some((a) => a.critical)) items.push(legendItem('sw sw-crit', 'critical path (outlined)'));
    if (model.attempts.some((a) => a.number > 1)) items.push(legendItem('sw sw-retry', 'retry (notched, “#2”)'));
    if (model.attempts.some((a) => a.queued > 0)) items.push(legendItem('sw sw-queued', 'waiting in the queue (dashed)'));
    if (model.attempts.some((a) => a.dur === null && a.status !== 'running')) {
      items.push(legendItem('sw sw-open', 'never finished (striped)'));
    }
    return items.join('');
  }

  function legendItem(swatchClass, text) {
    return '<li><span class="' + swatchClass + '" aria-hidden="true"></span>' + esc(text) + '</li>';
  }

  function maxZoom() {
    const widest = Math.min(MAX_TRACK_PX, model.span * MAX_PX_PER_MS);
    return Math.max(1, widest / view.fitW);
  }

  // Bars are placed in percent of their track, so a zoom only changes the
  // canvas width, one stylesheet rule for the names, and the axis.
  function applyZoom(zoom, anchorX) {
    const scroller = $('tl-scroll');
    const anchor = anchorX === undefined ? view.viewW / 2 : anchorX;
    const time = view.trackW ? (scroller.scrollLeft + anchor) / view.trackW : 0;
    view.zoom = Math.min(maxZoom(), Math.max(1, zoom));
    view.trackW = view.fitW * view.zoom;
    $('tl-canvas').style.width = (view.labelW + view.trackW) + 'px';
    const left = Math.max(0, Math.min(view.trackW - view.viewW, time * view.trackW - anchor));
    if (time) scroller.scrollLeft = left;
    updateLabelRule();
    renderTicks(left);
    $('zoom-level').textContent = '×' + (view.zoom < 10 ? view.zoom.toFixed(1) : Math.round(view.zoom));
    $('zoom-out').disabled = view.zoom <= 1;
    $('zoom-in').disabled = view.zoom >= maxZoom();
  }

  function updateLabelRule() {
    const last = Math.min(MAX_BUCKET, Math.floor(2 * Math.log2(view.trackW / MIN_LABEL_PX)) - 1);
    if (last === view.bucketShown) return;
    view.bucketShown = last;
    let rule = '';
    if (last >= MAX_BUCKET) rule = '.tl-track .bar{font-size:var(--bar-font)}';
    else if (last >= 0) {
      const list = [];
      for (let b = 0; b <= last; b++) list.push('.w' + b);
      rule = '.tl-track .bar:is(' + list.join(',') + '){font-size:var(--bar-font)}';
    }
    view.labelStyle.textContent = rule;
  }

  // Only the ticks in view (and a screen either side) are drawn, so the axis
  // costs the same at any zoom. `left` is the track's scroll offset, passed
  // in so that the first drawing need not wait for a layout.
  function renderTicks(left) {
    const pxPerMs = view.trackW / model.span;
    const step = tickStep(pxPerMs);
    const from = Math.max(0, Math.floor((left - view.viewW) / pxPerMs / step));
    const to = Math.min(Math.floor(model.span / step), Math.ceil((left + 2 * view.viewW) / pxPerMs / step));
    let axis = '';
    let grid = '';
    for (let k = from; k <= to; k++) {
      const x = (k * step * pxPerMs).toFixed(1);
      axis += '<span class="tick" style="left:' + x + 'px">' + esc(fmtTick(k * step, step)) + '</span>';
      grid += '<span style="left:' + x + 'px"></span>';
    }
    $('tl-axis').innerHTML = axis;
    $('tl-grid').innerHTML = grid;
  }

  function tickStep(pxPerMs) {
    const least = MIN_TICK_PX / pxPerMs;
    for (const s of TICK_STEPS) if (s >= least) return s;
    const day = TICK_STEPS[TICK_STEPS.length - 1];
    let step = day;
    while (step < least) step *= 2;
    return step;
  }

  function wireTimeline() {
    const scroller = $('tl-scroll');
    scroller.addEventListener('scroll', () => {
      hideTip();
      if (!view.tickFrame) {
        view.tickFrame = requestAnimationFrame(() => {
          view.tickFrame = 0;
          renderTicks(scroller.scrollLeft);
        });
      }
    }, { passive: true });
    scroller.addEventListener('wheel', onWheel, { passive: false });
    scroller.addEventListener('mousemove', onTimelineHover);
    scroller.addEventListener('mouseleave', hideTip);
    scroller.addEventListener('click', (e) => {
      const bar = e.target.closest('.bar');
      if (bar) showAttempt(Number(bar.dataset.i), false);
    });
    $('zoom-in').addEventListener('click', () => applyZoom(view.zoom * ZOOM_STEP));
    $('zoom-out').addEventListener('click', () => applyZoom(view.zoom / ZOOM_STEP));
    $('zoom-fit').addEventListener('click', () => applyZoom(1));
    $('tl-critical').addEventListener('change', (e) => {
      $('tl-rows').classList.toggle('crit-only', e.target.checked);
    });
    window.addEventListener('resize', () => {
      if (!view.resizeFrame) view.resizeFrame = requestAnimationFrame(refit);
    });
  }

  // A new window width changes what "fit" is; the zoom factor and the time
  // at the left edge stay.
  function refit() {
    view.resizeFrame = 0;
    view.viewW = Math.max(100, $('tl-scroll').clientWidth - view.labelW);
    view.fitW = view.viewW;
    applyZoom(view.zoom, 0);
  }

  // Ctrl+wheel (and a touchpad pinch, which browsers send as one) zooms
  // around the pointer; several events in a frame make one zoom.
  function onWheel(e) {
    if (!e.ctrlKey) return;
    e.preventDefault();
    const dy = e.deltaMode === 1 ? e.deltaY * 16 : e.deltaMode === 2 ? e.deltaY * 400 : e.deltaY;
    const rect = e.currentTarget.getBoundingClientRect();
    view.pendingZoom *= Math.exp(-dy * 0.002);
    view.pendingAnchor = Math.max(0, e.clientX - rect.left - view.labelW);
    if (!view.zoomFrame) {
      view.zoomFrame = requestAnimationFrame(() => {
        view.zoomFrame = 0;
        const factor = view.pendingZoom;
        view.pendingZoom = 1;
        applyZoom(view.zoom * factor, view.pendingAnchor);
      });
    }
  }

  // Brings the timeline into view with the attempt's first bar in it, near
  // the left: the whole timeline when it fits, so the bar keeps its context.
  function revealBar(i) {
    const bar = document.querySelector('.bar[data-i="' + i + '"]');
    if (!bar) return;
    const a = model.attempts[i];
    $('tl-scroll').scrollLeft = a.start / model.span * view.trackW - view.viewW / 4;
    $('timeline').scrollIntoView({ block: 'nearest' });
    bar.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }

  // ---------------------------------------------------------------- tooltip

  function onTimelineHover(e) {
    const bar = e.target.closest('.bar');
    if (!bar) {
      hideTip();
      return;
    }
    const tip = $('tooltip');
    const i = Number(bar.dataset.i);
    if (i !== view.tip) {
      view.tip = i;
      tip.innerHTML = tipHtml(model.attempts[i]);
      tip.hidden = false;
      view.tipW = tip.offsetWidth;
      view.tipH = tip.offsetHeight;
    }
    placeTip(tip, e.clientX, e.clientY);
  }

  function placeTip(tip, x, y) {
    const w = view.tipW;
    const h = view.tipH;
    const gap = 14;
    let left = x + gap;
    let top = y + gap;
    if (left + w > window.innerWidth - 4) left = Math.max(4, x - gap - w);
    if (top + h > window.innerHeight - 4) top = Math.max(4, y - gap - h);
    tip.style.transform = 'translate(' + left + 'px,' + top + 'px)';
  }

  function hideTip() {
    if (view.tip < 0) return;
    view.tip = -1;
    $('tooltip').hidden = true;
  }

  function tipHtml(a) {
    const rows = [['Status', statusText(a)]];
    if (a.queued > 0) rows.push(['Queued', fmtDuration(a.queued)], ['Ran', durationText(a)]);
    else rows.push(['Duration', durationText(a)]);
    rows.push(['Start', fmtOffset(a.start)]);
    if (a.slots.length > 1) rows.push(['Slots', a.slots.join(', ')]);
    rows.push(['CPU', fmtDuration(a.cpu)], ['Peak memory', fmtMem(a.rss)]);
    const command = a.command.length > 300 ? a.command.slice(0, 300) + '…' : a.command;
    return '<div class="tip-head"><span class="sw ' + statusClass(a.status) + '" aria-hidden="true"></span><b>' +
      esc(a.task) + '</b>' + (a.tries > 1 ? ' <span class="muted">attempt ' + a.number + ' of ' + a.tries + '</span>' : '') +
      (a.critical ? ' <span class="crit-tag">critical</span>' : '') + '</div>' +
      '<dl>' + rows.map(([k, v]) => '<dt>' + esc(k) + '</dt><dd>' + esc(v) + '</dd>').join('') + '</dl>' +
      (command ? '<code class="tip-cmd">' + esc(command) + '</code>' : '') +
      '<div class="tip-hint">Click for details and log</div>';
  }

  // ---------------------------------------------------------------- details panel

  // Opens attempt i in the details panel and marks it in the timeline and
  // table; from a link outside the timeline, scrolls the timeline to it.
  function showAttempt(i, reveal) {
    const a = model.attempts[i];
    if (!a) return;
    select(i);
    $('details-title').textContent = a.task;
    $('details-body').innerHTML = detailsHtml(a);
    const panel = $('details');
    panel.hidden = false;
    const log = $('details-log');
    if (log) log.scrollTop = log.scrollHeight;
    if (reveal) revealBar(i);
  }

  function select(i) {
    for (const el of document.querySelectorAll('.sel')) el.classList.remove('sel');
    view.selected = i;
    if (i < 0) return;
    for (const el of document.querySelectorAll('.bar[data-i="' + i + '"]')) el.classList.add('sel');
    const row = document.querySelector('#tasks-body tr[data-i="' + model.tasks[model.attempts[i].taskIndex].final + '"]');
    if (row) row.classList.add('sel');
  }

  function closeDetails() {
    const panel = $('details');
    if (panel.hidden) return;
    panel.hidden = true;
    select(-1);
  }

  function detailsHtml(a) {
    const fields = [['Status', statusText(a)]];
    if (a.tries > 1) fields.push(['Attempt', a.number + ' of ' + a.tries]);
    const at = (offset) => fmtOffset(offset) + (model.run.started !== null ? ' (' + fmtClock(model.run.started + offset) + ')' : '');
    if (a.worker) fields.push(['Worker', a.worker]);
    if (a.job) fields.push(['Job id', a.job]);
    if (a.queued > 0) {
      fields.push(['Submitted', at(a.start)], ['Queued', fmtDuration(a.queued)], ['Ran from', at(a.ran)]);
    } else {
      fields.push(['Started', at(a.start)]);
    }
    fields.push(
      [a.queued > 0 ? 'Ran for' : 'Duration', durationText(a)],
      ['Job slot' + (a.slots.length > 1 ? 's' : ''), a.slots.map((s) => model.run.rows[s - 1] || s).join(', ') || '—'],
      ['CPU time', fmtDuration(a.cpu)],
      ['Peak memory', fmtMem(a.rss)],
      ['Critical path', a.critical ? 'yes' : 'no'],
    );
    let html = '<p class="d-status"><span class="pill ' + statusClass(a.status) + '">' + esc(statusWord(a.status)) +
      '</span>' + (a.critical ? ' <span class="crit-tag">critical path</span>' : '') + '</p>';
    if (a.detail) html += '<p class="d-detail">' + esc(a.detail) + '</p>';
    html += '<dl class="d-fields">' + fields.map(([k, v]) => '<dt>' + esc(k) + '</dt><dd>' + esc(v) + '</dd>').join('') +
      '</dl><h3>Command</h3><pre class="d-cmd">' + esc(a.command || '—') + '</pre><h3>Log</h3>';
    html += a.log ? '<p class="d-path"><code>' + esc(a.log) + '</code></p>' : '<p class="muted">The output was not kept.</p>';
    if (a.tail && a.logBytes !== null && a.logBytes > a.tail.length) {
      html += '<p class="muted">Its last lines; the whole log is ' + esc(fmtBytes(a.logBytes)) + '.</p>';
    }
    html += a.tail ? '<pre class="d-log" id="details-log" tabindex="0">' + esc(a.tail) + '</pre>'
      : '<p class="muted">' + (a.log ? 'The log is empty.' : 'No log tail.') + '</p>';
    if (a.tries > 1) html += attemptsHtml(a);
    return html;
  }

  function attemptsHtml(current) {
    const task = model.tasks[current.taskIndex];
    const items = task.attempts.map((i) => {
      const a = model.attempts[i];
      const here = i === current.i;
      return '<li><button type="button" class="attempt' + (here ? ' cur' : '') + '" data-i="' + i + '"' +
        (here ? ' aria-current="true"' : '') + '><span class="sw ' + statusClass(a.status) + '" aria-hidden="true"></span>#' +
        a.number + ' ' + esc(statusText(a)) + ' · ' + esc(durationText(a)) + '</button></li>';
    }).join('');
    return '<h3>Attempts</h3><ol class="d-attempts">' + items + '</ol>';
  }

  // ---------------------------------------------------------------- tasks table

  // The table draws only the rows in view (plus a margin), between two
  // spacer rows, so that sorting and filtering 10,000 tasks redraw a few
  // dozen rows instead of laying out 70,000 cells.
  function renderTable() {
    const section = $('tasks-section');
    section.hidden = false;
    if (!model.tasks.length) {
      $('tasks-wrap').hidden = true;
      $('task-filter').hidden = true;
      $('tasks-empty').hidden = false;
      return;
    }
    if (model.queued) addQueuedColumn();
    table.rows = model.tasks.map((t, k) => {
      const a = model.attempts[t.final];
      return {
        task: k, i: a.i, name: t.name, status: statusWord(a.status), attempts: t.attempts.length,
        queued: a.queued, duration: a.dur, start: model.attempts[t.attempts[0]].start, cpu: a.cpu, rss: a.rss,
        search: (t.name + '\n' + statusWord(a.status) + '\n' + a.status).toLowerCase(),
      };
    });
    sortRows();
    wireTable();
  }

  // Runs whose attempts waited in a batch system's queue get a column for
  // the wait, before the time they ran.
  function addQueuedColumn() {
    const duration = document.querySelector('#tasks th[data-key="duration"]');
    const th = document.createElement('th');
    th.scope = 'col';
    th.dataset.key = 'queued';
    th.className = 'num';
    th.setAttribute('aria-sort', 'none');
    th.innerHTML = '<button type="button">Queued</button>';
    duration.before(th);
    duration.querySelector('button').textContent = 'Ran';
    const col = document.createElement('col');
    col.className = 'c-time';
    $('tasks').querySelector('colgroup').children[3].before(col);
  }

  function sortRows() {
    table.sorted = table.rows.slice().sort(comparator(table.key, table.desc));
    markSorted();
    filterRows();
  }

  function filterRows() {
    table.filterFrame = 0;
    const q = $('task-filter').value.trim().toLowerCase();
    table.shown = q ? table.sorted.filter((row) => row.search.includes(q)) : table.sorted;
    updateCount();
    $('tasks-wrap').scrollTop = 0;
    table.first = -1;
    drawRows();
  }

  function drawRows() {
    table.drawFrame = 0;
    const wrap = $('tasks-wrap');
    const shown = table.shown;
    const rowH = table.rowH || ROW_H_GUESS;
    const top = wrap.scrollTop;
    const height = Math.max(wrap.clientHeight, window.innerHeight);
    const first = Math.max(0, Math.floor(top / rowH) - TABLE_OVERSCAN);
    const last = Math.min(shown.length, Math.ceil((top + height) / rowH) + TABLE_OVERSCAN);
    if (first === table.first && last === table.last) return;
    table.first = first;
    table.last = last;
    const body = $('tasks-body');
    body.innerHTML = spacerHtml(first * rowH) + shown.slice(first, last).map(rowHtml).join('') +
      spacerHtml((shown.length - last) * rowH);
    $('tasks').setAttribute('aria-rowcount', String(shown.length + 1));
    if (!table.rowH && last > first) {
      table.rowH = body.querySelector('tr[data-i]').getBoundingClientRect().height || ROW_H_GUESS;
      if (table.rowH !== rowH) {
        table.first = -1;
        drawRows();
      }
    }
  }

  function spacerHtml(height) {
    const columns = model.queued ? 8 : 7;
    return height > 0 ? '<tr class="spacer" aria-hidden="true"><td colspan="' + columns + '" style="height:' + height + 'px"></td></tr>' : '';
  }

  function rowHtml(row, k) {
    const a = model.attempts[row.i];
    const selected = view.selected >= 0 && model.attempts[view.selected].taskIndex === row.task;
    return '<tr data-i="' + a.i + '" aria-rowindex="' + (table.first + k + 2) + '" tabindex="0"' +
      (selected ? ' class="sel"' : '') + '><td class="name" title="' + esc(row.name) + '">' + esc(row.name) +
      (a.critical ? '<span class="crit-mark" title="on the critical path">critical</span>' : '') +
      '</td><td><span class="sw ' + statusClass(a.status) + '" aria-hidden="true"></span>' + esc(statusText(a)) +
      '</td><td class="num">' + row.attempts + (model.queued ? '</td><td class="num">' + esc(fmtDuration(a.queued)) : '') +
      '</td><td class="num">' + esc(a.dur === null ? unfinishedWord() : fmtDuration(a.dur)) +
      '</td><td class="num">' + esc(fmtOffset(row.start)) + '</td><td class="num">' + esc(fmtDuration(a.cpu)) +
      '</td><td class="num">' + esc(fmtMem(a.rss)) + '</td></tr>';
  }

  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

  // Missing values (still running, not measured) sort last either way.
  function comparator(key, desc) {
    const sign = desc ? -1 : 1;
    const byName = (x, y) => collator.compare(x.name, y.name);
    if (key === 'name') return (x, y) => sign * byName(x, y);
    if (key === 'status') return (x, y) => sign * collator.compare(x.status, y.status) || byName(x, y);
    return (x, y) => {
      const p = x[key];
      const q = y[key];
      if (p === null || q === null) return p === q ? byName(x, y) : p === null ? 1 : -1;
      return sign * (p - q) || byName(x, y);
    };
  }

  // A new column sorts names and statuses A to Z, numbers largest first.
  function sortBy(key) {
    if (key === table.key) table.desc = !table.desc;
    else {
      table.key = key;
      table.desc = key !== 'name' && key !== 'status';
    }
    sortRows();
  }

  function markSorted() {
    for (const th of document.querySelectorAll('#tasks th[data-key]')) {
      const on = th.dataset.key === table.key;
      th.setAttribute('aria-sort', on ? (table.desc ? 'descending' : 'ascending') : 'none');
    }
  }

  function updateCount() {
    const total = table.rows.length;
    const shown = table.shown.length;
    const noun = total === 1 ? ' task' : ' tasks';
    $('task-count').textContent = shown === total ? fmtCount(total) + noun : fmtCount(shown) + ' of ' + fmtCount(total) + noun;
  }

  function wireTable() {
    $('tasks').querySelector('thead').addEventListener('click', (e) => {
      const th = e.target.closest('th[data-key]');
      if (th) sortBy(th.dataset.key);
    });
    const body = $('tasks-body');
    body.addEventListener('click', (e) => {
      const tr = e.target.closest('tr[data-i]');
      if (tr) showAttempt(Number(tr.dataset.i), true);
    });
    body.addEventListener('keydown', (e) => {
      const tr = e.target.closest('tr[data-i]');
      if (tr && (e.key === 'Enter' || e.key === ' ')) {
        e.preventDefault();
        showAttempt(Number(tr.dataset.i), true);
      }
    });
    $('task-filter').addEventListener('input', () => {
      if (!table.filterFrame) table.filterFrame = requestAnimationFrame(filterRows);
    });
    $('tasks-wrap').addEventListener('scroll', () => {
      if (!table.drawFrame) table.drawFrame = requestAnimationFrame(drawRows);
    }, { passive: true });
  }

  // ---------------------------------------------------------------- not run

  function renderNotRun() {
    const groups = new Map();
    for (const n of model.notRun) {
      if (!groups.has(n.why)) groups.set(n.why, []);
      groups.get(n.why).push(n.task);
    }
    const known = new Map(NOT_RUN_REASONS);
    const reasons = NOT_RUN_REASONS.map(([why]) => why).filter((why) => groups.has(why))
      .concat(Array.from(groups.keys()).filter((why) => !known.has(why)));
    const section = $('not-run');
    section.hidden = false;
    if (!reasons.length) {
      $('not-run-body').innerHTML = '<p class="empty">Every task of the run ran.</p>';
      return;
    }
    $('not-run-body').innerHTML = '<ul class="reasons">' + reasons.map((why) => {
      const names = groups.get(why);
      return '<li><details><summary><b>' + fmtCount(names.length) + '</b> <span class="why">' + esc(why) +
        '</span> <span class="muted">' + esc(known.get(why) || '') + '</span></summary><ul class="names">' +
        names.map((n) => '<li>' + esc(n) + '</li>').join('') + '</ul></details></li>';
    }).join('') + '</ul>';
  }

  // ---------------------------------------------------------------- page-wide

  function wireGlobal() {
    $('details-close').addEventListener('click', closeDetails);
    $('details-body').addEventListener('click', (e) => {
      const b = e.target.closest('button[data-i]');
      if (b) showAttempt(Number(b.dataset.i), true);
    });
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        hideTip();
        closeDetails();
      }
    });
  }

  // ---------------------------------------------------------------- formatting

  const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  function esc(s) { return String(s).replace(/[&<>"']/g, (c) => ESCAPES[c]); }

  function pct(fraction) { return (fraction * 100).toFixed(5) + '%'; }

  function pad2(n) { return n < 10 ? '0' + n : String(n); }

  // 850 ms, 2.50 s, 12.3 s, 3 m 05 s, 1 h 02 m.
  function fmtDuration(ms) {
    if (ms === null || ms === undefined || !isFinite(ms)) return '—';
    if (ms < 999.5) return ms > 0 && ms < 9.95 && ms !== Math.round(ms) ? ms.toFixed(1) + ' ms' : Math.round(ms) + ' ms';
    const s = ms / 1000;
    if (s < 9.995) return s.toFixed(2) + ' s';
    if (s < 59.95) return s.toFixed(1) + ' s';
    const whole = Math.round(s);
    if (whole < 3600) return Math.floor(whole / 60) + ' m ' + pad2(whole % 60) + ' s';
    const minutes = Math.floor(s / 60);
    return Math.floor(minutes / 60) + ' h ' + pad2(minutes % 60) + ' m';
  }

  function fmtOffset(ms) { return ms === 0 ? '0 s' : '+' + fmtDuration(ms); }

  // A run without an end is still going or lost its maestro; the data
  // cannot tell which, so an attempt without a duration is only "unfinished"
  // then, and "never finished" in a run that ended.
  function durationText(a) {
    if (a.dur !== null) return fmtDuration(a.dur);
    const sofar = fmtDuration(a.end - a.ran);
    return model.run.status === 'running'
      ? 'unfinished: still running or maestro stopped (' + sofar + ' so far)'
      : 'never finished (' + sofar + ' or more)';
  }

  function unfinishedWord() {
    return model.run.status === 'running' ? 'unfinished' : 'never finished';
  }

  function fmtBytes(bytes) {
    if (bytes < 1024) return bytes + ' bytes';
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + ' KiB';
    return (bytes / (1024 * 1024)).toFixed(1) + ' MiB';
  }

  function fmtMem(kib) {
    if (kib === null) return '—';
    const mb = kib / 1024;
    return (mb < 100 ? mb.toFixed(1) : Math.round(mb).toLocaleString('en-US')) + ' MB';
  }

  function fmtPercent(f) { return (f * 100).toFixed(f < 0.1 ? 1 : 0) + ' %'; }

  function fmtCount(n) { return typeof n === 'number' && isFinite(n) ? n.toLocaleString('en-US') : '—'; }

  // Local time as 2025-11-22 09:46:40: unambiguous in every locale.
  function fmtDate(ms) {
    const d = new Date(ms);
    return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate()) + ' ' + fmtClock(ms);
  }

  function fmtClock(ms) {
    const d = new Date(ms);
    return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds());
  }

  // Axis labels: "250 ms", "1.5 s", "1 m 30 s", "2 h 05 m", with as many
  // decimals as the tick step needs.
  function fmtTick(t, step) {
    if (t === 0) return '0';
    if (step < 1000 && t < 1000) return t + ' ms';
    const decimals = step >= 1000 ? 0 : step >= 100 ? 1 : step >= 10 ? 2 : 3;
    const h = Math.floor(t / 36e5);
    const m = Math.floor((t - h * 36e5) / 6e4);
    const s = (t - h * 36e5 - m * 6e4) / 1000;
    const parts = [];
    if (h) parts.push(h + ' h');
    if (m || (h && s)) parts.push((h ? pad2(m) : m) + ' m');
    if (s || !parts.length) parts.push((parts.length && s < 10 ? '0' : '') + s.toFixed(decimals) + ' s');
    return parts.join(' ');
  }

  function statusWord(status) { return status.replace(/_/g, ' '); }

  function statusClass(status) {
    return STATUSES.includes(status) ? 's-' + status : 's-unknown';
  }

  // "failed (exit 1)", "timed out (SIGKILL)": the status in words, with how
  // the process ended when that says more.
  function statusText(a) {
    let text = statusWord(a.status);
    const how = [];
    if (a.exit !== null && !(a.status === 'ok' && a.exit === 0)) how.push('exit ' + a.exit);
    if (a.signal) how.push(a.signal);
    if (how.length) text += ' (' + how.join(', ') + ')';
    return text;
  }

  main();
})();
