// Every chart of a report page as the browser lays it out: each text of each SVG chart (matplotlib
// writes one <g id="text_N"> per tick label, axis label, title and legend entry, its text in a
// comment) with its box in CSS pixels, and what makes a chart hard to read: text cut off at the
// chart's edge, text too small, texts overlapping, text under the legend, a legend over the plot.
() => {
  const label = (g) => {
    for (const n of g.childNodes) if (n.nodeType === Node.COMMENT_NODE) return n.textContent.trim();
    return g.id;
  };
  const box = (r) => ({x0: r.left, y0: r.top, x1: r.right, y1: r.bottom});
  const meet = (a, b, slack) =>
    Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0) > slack &&
    Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0) > slack;
  return [...document.querySelectorAll("div[data-chart]")].map((div) => {
    const svg = div.querySelector("svg");
    const frame = box(svg.getBoundingClientRect());
    const drawn = svg.viewBox.baseVal.width * 4 / 3;  // matplotlib's size in pt, as CSS px
    const texts = [...svg.querySelectorAll('g[id^="text_"]')]
      .map((g) => ({
        text: label(g),
        legend: g.closest('g[id^="legend_"]') !== null,
        ...box(g.getBoundingClientRect()),
      }))
      .filter((t) => t.x1 - t.x0 > 0.5 && t.y1 - t.y0 > 0.5);
    const legends = [...svg.querySelectorAll('g[id^="legend_"]')]
      .map((g) => box(g.getBoundingClientRect()));
    // The first patch of an axes is its background: the plotting area.
    const plots = [...svg.querySelectorAll('g[id^="axes_"]')]
      .map((g) => g.querySelector('g[id^="patch_"]'))
      .filter((p) => p !== null)
      .map((p) => box(p.getBoundingClientRect()));
    const problems = [];
    for (const t of texts) {
      if (t.x0 < frame.x0 - 1 || t.y0 < frame.y0 - 1 || t.x1 > frame.x1 + 1 || t.y1 > frame.y1 + 1)
        problems.push(`cut off: ${t.text}`);
      if (t.y1 - t.y0 < 7) problems.push(`smaller than 7 px: ${t.text}`);
      if (!t.legend)
        for (const l of legends) if (meet(t, l, 1)) problems.push(`under the legend: ${t.text}`);
    }
    for (let i = 0; i < texts.length; i++)
      for (let j = i + 1; j < texts.length; j++)
        if (meet(texts[i], texts[j], 1)) problems.push(`overlap: ${texts[i].text} / ${texts[j].text}`);
    for (const l of legends) for (const p of plots) if (meet(l, p, 1)) problems.push("legend over the plot");
    return {
      name: div.dataset.chart,
      texts: texts.map((t) => t.text),
      scale: (frame.x1 - frame.x0) / drawn,
      width: frame.x1 - frame.x0,
      problems,
    };
  });
}
