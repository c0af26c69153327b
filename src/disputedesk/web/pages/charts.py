"""Charts drawn on the server as SVG: no JavaScript, no library, nothing fetched.

Each function returns one ``<svg role="img">`` (escaped text, presentation attributes only, so
the page's Content-Security-Policy needs nothing more) with a ``<title>`` and a ``<desc>`` that
says in words what it shows; the page puts the figures' table beneath every chart.
"""

from __future__ import annotations

from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 240
PAD_L, PAD_R, PAD_T, PAD_B = 48, 12, 16, 36
COLORS = {"won": "#2e7d32", "lost": "#c62828", "accepted": "#ef6c00", "open": "#1565c0",
          "line": "#1565c0", "threshold": "#c62828", "grid": "#dde3ea", "text": "#334155",
          "bar": "#1565c0", "muted": "#94a3b8"}


def _svg(title: str, desc: str, body: list[str], *, height: int = HEIGHT) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>{''.join(body)}</svg>")


def _text(x: float, y: float, text: str, *, anchor: str = "middle", size: int = 11,
          color: str = COLORS["text"]) -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
            f'fill="{color}" font-family="sans-serif">{escape(text)}</text>')


def _axis(top: float, fmt) -> list[str]:
    out = []
    plot_h = HEIGHT - PAD_T - PAD_B
    for i in range(5):
        value = top * i / 4
        y = HEIGHT - PAD_B - plot_h * i / 4
        out.append(f'<line x1="{PAD_L}" x2="{WIDTH - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" '
                   f'stroke="{COLORS["grid"]}"/>')
        out.append(_text(PAD_L - 6, y + 4, fmt(value), anchor="end", size=10))
    return out


def _nice(top: float) -> float:
    if top <= 0:
        return 1.0
    step = 10 ** len(str(int(top))) / 10
    for mult in (1, 2, 2.5, 5, 10):
        if step * mult * 10 >= top:
            nice = step * mult * 10
            while nice / 2 >= top and nice / 2 > 0:
                nice /= 2
            return nice
    return top


def stacked_bars(title: str, labels: list[str], series: list[tuple[str, str, list[int]]]) -> Markup:
    """One bar per label, stacked from ``series`` [(name, color key, values)]."""
    totals = [sum(s[2][i] for s in series) for i in range(len(labels))]
    top = _nice(max(totals or [0]))
    top = -(-top // 4) * 4  # whole numbers on the four grid lines
    plot_w, plot_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B
    slot = plot_w / max(len(labels), 1)
    body = _axis(top, lambda v: f"{v:,.0f}")
    for i, label in enumerate(labels):
        x = PAD_L + i * slot + slot * 0.15
        y = HEIGHT - PAD_B
        for name, color, values in series:
            h = plot_h * values[i] / top if top else 0
            if h > 0:
                y -= h
                body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
                            f'height="{h:.1f}" fill="{COLORS[color]}"><title>{escape(label)} '
                            f'{escape(name)}: {values[i]:,}</title></rect>')
        body.append(_text(x + slot * 0.35, HEIGHT - PAD_B + 14, label[2:] if len(labels) > 8
                          else label, size=10))
    lx = PAD_L
    for name, color, _ in series:
        body.append(f'<rect x="{lx}" y="{HEIGHT - 14}" width="10" height="10" '
                    f'fill="{COLORS[color]}"/>')
        body.append(_text(lx + 14, HEIGHT - 5, name, anchor="start", size=10))
        lx += 24 + 7 * len(name)
    desc = "; ".join(f"{label}: " + ", ".join(f"{name} {values[i]}" for name, _, values in series)
                     for i, label in enumerate(labels))
    return _svg(title, desc, body)


def hbars(title: str, items: list[tuple[str, float | None, str]]) -> Markup:
    """Horizontal bars of fractions 0..1 [(label, value or None, caption)]."""
    row = 22
    height = PAD_T + row * max(len(items), 1) + 8
    label_w = 170
    plot_w = WIDTH - label_w - 90
    body = []
    for i, (label, value, caption) in enumerate(items):
        y = PAD_T + i * row
        body.append(_text(label_w - 8, y + 14, label, anchor="end"))
        body.append(f'<rect x="{label_w}" y="{y + 3}" width="{plot_w}" height="{row - 8}" '
                    f'fill="{COLORS["grid"]}"/>')
        if value is not None:
            body.append(f'<rect x="{label_w}" y="{y + 3}" width="{plot_w * value:.1f}" '
                        f'height="{row - 8}" fill="{COLORS["won"]}"/>')
        body.append(_text(label_w + plot_w + 6, y + 14, caption, anchor="start", size=10))
    desc = "; ".join(f"{label}: {caption}" for label, _, caption in items) or "no data"
    return _svg(title, desc, body, height=height)


def ratio_lines(title: str, labels: list[str], values: list[float | None], threshold: float,
                threshold_name: str) -> Markup:
    """A monthly ratio as a line with its program's threshold as a dashed line; a month with
    no ratio (no sales history) is a gap marked "no sales"."""
    known = [v for v in values if v is not None]
    top = _nice(max([*known, threshold * 1.25]) * 100) / 100
    plot_w, plot_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B
    slot = plot_w / max(len(labels), 1)
    body = _axis(top, lambda v: f"{v * 100:.1f}%")

    def y_of(v: float) -> float:
        return HEIGHT - PAD_B - plot_h * min(v / top, 1.0)

    ty = y_of(threshold)
    body.append(f'<line x1="{PAD_L}" x2="{WIDTH - PAD_R}" y1="{ty:.1f}" y2="{ty:.1f}" '
                f'stroke="{COLORS["threshold"]}" stroke-dasharray="6 4" stroke-width="1.5"/>')
    body.append(_text(WIDTH - PAD_R - 4, ty - 4, f"{threshold_name} {threshold * 100:.1f}%",
                      anchor="end", size=10, color=COLORS["threshold"]))
    segment: list[str] = []
    for i, (label, value) in enumerate(zip(labels, values)):
        x = PAD_L + i * slot + slot / 2
        body.append(_text(x, HEIGHT - PAD_B + 14, label[2:] if len(labels) > 8 else label,
                          size=10))
        if value is None:
            if len(segment) > 1:
                body.append(f'<polyline points="{" ".join(segment)}" fill="none" '
                            f'stroke="{COLORS["line"]}" stroke-width="2"/>')
            segment = []
            body.append(_text(x, HEIGHT - PAD_B - 6, "no sales", size=9, color=COLORS["muted"]))
            continue
        y = y_of(value)
        segment.append(f"{x:.1f},{y:.1f}")
        color = COLORS["threshold"] if value >= threshold else COLORS["line"]
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}">'
                    f'<title>{escape(label)}: {value * 100:.2f}%</title></circle>')
    if len(segment) > 1:
        body.append(f'<polyline points="{" ".join(segment)}" fill="none" '
                    f'stroke="{COLORS["line"]}" stroke-width="2"/>')
    desc = "; ".join(f"{label}: " + ("no sales history" if v is None else f"{v * 100:.2f}%")
                     for label, v in zip(labels, values)) + \
        f". Threshold {threshold_name} {threshold * 100:.1f}%."
    return _svg(title, desc, body)


def money_pairs(title: str, pairs: list[tuple[str, int, str, int, str]]) -> Markup:
    """Per currency, recovered vs lost [(currency, recovered, its text, lost, its text)], each
    currency on its own scale (amounts in different currencies are never compared)."""
    row = 40
    height = PAD_T + row * max(len(pairs), 1) + 22
    label_w, plot_w = 60, WIDTH - 60 - 150
    body = []
    for i, (currency, won, won_text, lost, lost_text) in enumerate(pairs):
        y = PAD_T + i * row
        top = max(won, lost, 1)
        body.append(_text(label_w - 8, y + 20, currency.upper(), anchor="end"))
        for j, (value, text, color) in enumerate(((won, won_text, "won"),
                                                  (lost, lost_text, "lost"))):
            by = y + 4 + j * 16
            body.append(f'<rect x="{label_w}" y="{by}" width="{max(plot_w * value / top, 1):.1f}" '
                        f'height="13" fill="{COLORS[color]}"/>')
            body.append(_text(label_w + plot_w * value / top + 6, by + 11, text, anchor="start",
                              size=10))
    body.append(f'<rect x="{label_w}" y="{height - 14}" width="10" height="10" fill="{COLORS["won"]}"/>')
    body.append(_text(label_w + 14, height - 5, "won back", anchor="start", size=10))
    body.append(f'<rect x="{label_w + 90}" y="{height - 14}" width="10" height="10" '
                f'fill="{COLORS["lost"]}"/>')
    body.append(_text(label_w + 104, height - 5, "lost", anchor="start", size=10))
    desc = "; ".join(f"{c.upper()}: won back {wt}, lost {lt}" for c, _, wt, _, lt in pairs) or \
        "no money moved"
    return _svg(title, desc, body, height=height)
