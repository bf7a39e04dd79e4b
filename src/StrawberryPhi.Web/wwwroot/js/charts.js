// Training curves with uPlot (wwwroot/lib/uplot, ADR 0009): many points, live appends, drag to zoom, log scale.
// Each series is drawn twice: the raw points, faint, and their bias-corrected exponential moving average, bold
// (the smoothing the studio's overfitting check uses too: TrainingCurves.Ema).
window.studioCharts = (() => {
  const charts = new WeakMap();

  // Bias-corrected EMA; gaps (null) stay gaps and do not move the average. weight in [0, 1): 0 is raw.
  function ema(values, weight) {
    const out = new Array(values.length).fill(null);
    let last = 0, seen = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v === null || v === undefined || Number.isNaN(v)) continue;
      seen++;
      last = last * weight + (1 - weight) * v;
      out[i] = last / (1 - Math.pow(weight, seen));
    }
    return out;
  }

  function css(name, fallback) {
    const v = getComputedStyle(document.body).getPropertyValue(name).trim();
    return v || fallback;
  }

  function alpha(color, a) {
    // #rrggbb → rgba
    if (/^#[0-9a-f]{6}$/i.test(color)) {
      const n = parseInt(color.slice(1), 16);
      return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
    }
    return color;
  }

  // The series as uPlot wants them: one shared x (uPlot.join aligns series with different x), raw then smoothed.
  function build(state) {
    const tables = state.series.map(s => [s.x, s.y]);
    const joined = tables.length === 0 ? [[]] : uPlot.join(tables);
    const data = [joined[0]];
    for (let i = 0; i < state.series.length; i++) {
      const raw = joined[i + 1];
      data.push(raw);
      data.push(state.smoothing > 0 ? ema(raw, state.smoothing) : raw.map(() => null));
    }
    return data;
  }

  function options(el, state) {
    const text = css('--mud-palette-text-secondary', '#666');
    const grid = css('--mud-palette-lines-default', 'rgba(0,0,0,.12)');
    const axis = { stroke: text, grid: { stroke: alpha(grid, 1), width: 1 }, ticks: { stroke: grid } };
    const series = [{ label: state.xLabel, value: state.xTime ? undefined : (u, v) => v == null ? '—' : v.toLocaleString() }];
    for (const s of state.series) {
      const smooth = state.smoothing > 0;
      series.push({ label: s.label + (smooth ? ' (raw)' : ''), stroke: smooth ? alpha(s.color, 0.3) : s.color, width: smooth ? 1 : 2,
        dash: s.dashed ? [6, 4] : undefined, spanGaps: true, points: { show: s.x.length < 200, size: 4, stroke: s.color, fill: s.color } });
      series.push({ label: s.label, stroke: s.color, width: 2, dash: s.dashed ? [6, 4] : undefined, spanGaps: true, show: smooth, points: { show: false } });
    }
    return {
      width: Math.max(300, el.clientWidth), height: state.height || 320,
      scales: { x: { time: !!state.xTime }, y: { distr: state.log ? 3 : 1 } },
      axes: [{ ...axis, label: state.xLabel }, { ...axis, label: state.yLabel, size: 60 }],
      series,
      legend: { live: true },
      cursor: { drag: { x: true, y: false, setScale: true } },
      hooks: { setSelect: [u => { if (u.select.width > 0) state.zoomed = true; }] },
    };
  }

  function create(el, state) {
    el.innerHTML = '';
    const u = new uPlot(options(el, state), build(state), el);
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(300, el.clientWidth), height: state.height || 320 }));
    resize.observe(el);
    const reset = () => { state.zoomed = false; };
    u.over.addEventListener('dblclick', reset);
    charts.set(el, { u, state, resize });
  }

  return {
    ema,

    // Draws the chart, or updates it in place when only the data changed (a zoom stays where the user put it).
    render(el, spec) {
      const existing = charts.get(el);
      const state = { ...spec, zoomed: existing?.state.zoomed ?? false };
      const sameShape = existing && existing.state.series.length === spec.series.length
        && existing.state.series.every((s, i) => s.label === spec.series[i].label && s.color === spec.series[i].color)
        && existing.state.log === spec.log && existing.state.xTime === spec.xTime && existing.state.smoothing === spec.smoothing
        && existing.state.yLabel === spec.yLabel;
      if (!sameShape) {
        if (existing) { existing.resize.disconnect(); existing.u.destroy(); }
        create(el, state);
        return;
      }
      existing.state = state;
      existing.u.setData(build(state), !state.zoomed);
    },

    // Adds points to the end of each series (a live job): only the new points cross the wire.
    append(el, tails) {
      const chart = charts.get(el);
      if (!chart) return;
      tails.forEach((t, i) => {
        const s = chart.state.series[i];
        if (!s) return;
        s.x.push(...t.x);
        s.y.push(...t.y);
      });
      chart.u.setData(build(chart.state), !chart.state.zoomed);
    },

    destroy(el) {
      const chart = charts.get(el);
      if (!chart) return;
      chart.resize.disconnect();
      chart.u.destroy();
      charts.delete(el);
    },
  };
})();
