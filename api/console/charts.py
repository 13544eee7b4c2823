"""A small line chart of (time, value) samples as SVG (pure): the streaming lag of the last
hour. Drawn on the server so the page needs no charting library."""
from __future__ import annotations

from datetime import datetime, timedelta
from html import escape

W, H, PAD_L, PAD_B, PAD_T = 560, 160, 44, 22, 10
# Presentation attributes, not CSS: an SVG shown through <img> does not see the page's
# stylesheet, and the console's CSP allows no inline <style>.
TEXT = 'font-family="system-ui, sans-serif" font-size="11" fill="#57606a"'


def nice_max(value: float) -> float:
    for step in (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600):
        if value <= step:
            return float(step)
    return float(int(value) + 1)


def lag_svg(samples: list[tuple[datetime, float]], now: datetime, window: timedelta = timedelta(hours=1),
            title: str = "Lag over the last hour") -> str:
    start = now - window
    span = window.total_seconds()
    top = nice_max(max((v for _, v in samples), default=0.0))
    plot_w, plot_h = W - PAD_L - 8, H - PAD_B - PAD_T

    def xy(at: datetime, v: float) -> tuple[float, float]:
        x = PAD_L + plot_w * max(0.0, min(1.0, (at - start).total_seconds() / span))
        return round(x, 1), round(PAD_T + plot_h * (1 - min(v, top) / top), 1)

    points = " ".join(f"{x},{y}" for x, y in (xy(a, v) for a, v in samples if a >= start))
    latest = f"latest {samples[-1][1]:.2f} s" if samples else "no samples yet"
    desc = f"{len(samples)} samples, peak {max((v for _, v in samples), default=0):.2f} s, {latest}"
    grid = "".join(
        f'<line x1="{PAD_L}" x2="{W - 8}" y1="{PAD_T + plot_h * f}" y2="{PAD_T + plot_h * f}" stroke="#d0d7de" stroke-width="1"/>'
        f'<text x="{PAD_L - 6}" y="{PAD_T + plot_h * f + 4}" text-anchor="end" {TEXT}>{top * (1 - f):g} s</text>'
        for f in (0, 0.5, 1))
    ticks = "".join(f'<text x="{PAD_L + plot_w * f}" y="{H - 6}" text-anchor="middle" {TEXT}>-{60 - int(60 * f)} min</text>'
                    for f in (0, 0.5, 1))
    line = f'<polyline points="{points}" fill="none" stroke="#0b57d0" stroke-width="2"/>' if points else \
        f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle" {TEXT}>no samples yet</text>'
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" '
            f'aria-labelledby="lag-title lag-desc" class="chart">'
            f'<title id="lag-title">{escape(title)}</title><desc id="lag-desc">{escape(desc)}</desc>'
            f'{grid}{ticks}{line}</svg>')
