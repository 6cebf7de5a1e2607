"""``interceptor audit --html``: one self-contained page for a compliance reader.

The page opens with a plain-language summary, then shows a heatmap of scores (feature x protected
attribute), the evidence behind each flagged feature, the combination detector's result and the
methods with their limits. It has inline CSS only: no script, no font or stylesheet to fetch.
Every value from the data file (column names, levels, notes) is HTML-escaped, and only aggregates
appear: counts per level, never a row's protected values.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from interceptor.offline import html_style
from interceptor.offline.html_style import SCALE, STYLESHEET, cell_colour
from interceptor.offline.result import AuditResult, CombinationRow, ProxyRow

__all__ = ["render_html", "write_html"]

JOINT = "joint"
_STATUS_WORDS = {
    "proxy": "proxy",
    "review": "review",
    "clear": "clear",
    "insufficient_support": "too sparse",
}
_METHOD_WORDS = {
    "g-test": "G-test (likelihood ratio)",
    "g": "G-test (likelihood ratio)",
    "pearson": "Pearson chi-squared test",
    "permutation": "permutation test",
}


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _score(value: float | None) -> str:
    return _e(html_style.format_score(value))


def _percent(value: float | None) -> str:
    return _e(html_style.format_percent(value))


def _pval(value: float | None) -> str:
    return _e(html_style.format_p(value))


def _attribute_words(attribute: str, result: AuditResult) -> str:
    """``race``, or ``race, sex and age_band together`` for the joint code."""
    if attribute != JOINT:
        return attribute
    names = [a.name for a in result.attributes]
    listed = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
    return f"{listed} together"


def _known_words(attribute: str) -> str:
    return "all of them are known" if attribute == JOINT else f"{attribute} is known"


def _badge(status: str) -> str:
    return f'<span class="badge {_e(status)}">{_e(_STATUS_WORDS.get(status, status))}</span>'


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else (plural or word + 's')}"


def _summary(result: AuditResult) -> str:
    attributes = ", ".join(_e(a.name) for a in result.attributes)
    proxies = sorted({r.feature for r in result.proxies if r.status == "proxy"})
    reviews = sorted({r.feature for r in result.proxies if r.status == "review"} - set(proxies))
    sparse = [
        feature
        for feature in result.features
        if (rows := [r for r in result.proxies if r.feature == feature])
        and all(r.status == "insufficient_support" for r in rows)
    ]
    combos = [c for c in result.combinations if c.flagged]
    parts = [
        f"<p>This report checks whether any of the {_plural(len(result.features), 'feature')} "
        f"in <code>{_e(result.file)}</code> ({result.rows:,} rows) acts as a stand-in "
        f"(a <em>proxy</em>) for a protected attribute: {attributes}. A proxy lets a targeting "
        "model treat people differently by a protected attribute even though the attribute "
        "itself is never used.</p>"
    ]
    if proxies or reviews or combos:
        items = []
        if proxies:
            items.append(
                f"<li><strong>{_plural(len(proxies), 'feature')} flagged as a likely proxy</strong>"
                f": {', '.join(_e(f) for f in proxies)}. Each reveals at least "
                f"{_percent(result.thresholds.proxy)} of the uncertainty about a protected "
                "attribute, with statistical confidence. These should not be used for housing, "
                "employment or credit ads without review.</li>"
            )
        if reviews:
            items.append(
                f"<li><strong>{_plural(len(reviews), 'feature')} flagged for review</strong>: "
                f"{', '.join(_e(f) for f in reviews)}. Each reveals at least "
                f"{_percent(result.thresholds.review)} of the uncertainty about a protected "
                "attribute; weaker, but more than chance.</li>"
            )
        if combos:
            alone = _single_flagged(result)
            hidden = [c for c in combos if c.attribute not in alone]
            names = ", ".join(_e(_attribute_words(c.attribute, result)) for c in combos)
            extra = (
                ", including "
                + ", ".join(_e(_attribute_words(c.attribute, result)) for c in hidden)
                + ", which no single feature reveals"
                if hidden
                else ""
            )
            items.append(
                f"<li><strong>All features together predict {names}</strong> clearly better "
                f"than chance{extra} (see <a href='#combination'>Features in "
                "combination</a>).</li>"
            )
        parts.append(f'<div class="verdict bad"><ul>{"".join(items)}</ul></div>')
    else:
        parts.append(
            '<div class="verdict ok">No feature was flagged: none reveals as much as '
            f"{_percent(result.thresholds.review)} of the uncertainty about a protected "
            "attribute with statistical confidence, alone or in combination.</div>"
        )
    if sparse:
        parts.append(
            f"<p>{_plural(len(sparse), 'feature')} had too many distinct values for the rows "
            f"available to be scored directly ({', '.join(_e(f) for f in sparse)}). Such "
            "features are judged only by what a model fitted on half of the rows predicts on the "
            "other half, so an ID-like column that carries no real information is never flagged "
            "(see <a href='#limits'>Methods and limits</a>).</p>"
        )
    return "\n".join(parts)


def _legend(result: AuditResult) -> str:
    swatches = []
    lower = 0.0
    for upper, background, text in SCALE:
        label = f"≥ {lower:g}" if upper == float("inf") else f"{lower:g}–{upper:g}"
        if lower == 0.0:
            label = f"below {upper:g}"
        swatches.append(
            f'<span class="swatch" style="background:{background};color:{text}">{_e(label)}</span>'
        )
        lower = upper
    background, text = cell_colour(None)
    swatches.append(
        f'<span class="swatch" style="background:{background};color:{text}">not scored</span>'
    )
    thresholds = result.thresholds
    joint = (
        f"The <em>joint</em> column scores {_e(_attribute_words(JOINT, result))} "
        "(intersectional groups). "
        if len(result.attributes) > 1
        else ""
    )
    return (
        '<div class="legend">Score (share of the attribute\'s uncertainty revealed): '
        + "".join(swatches)
        + f"</div><p class='small'>A cell is flagged <em>review</em> when the lower end of its "
        f"95% confidence interval reaches {thresholds.review:g} and <em>proxy</em> when it reaches "
        f"{thresholds.proxy:g}, and the association is significant after Holm correction "
        f"(p &lt; {thresholds.alpha:g}). {joint}<em>Too sparse</em> means the table had too few "
        "rows per cell to test; such a cell is judged by held-out information instead.</p>"
    )


def _heatmap(result: AuditResult) -> str:
    columns = [a.name for a in result.attributes]
    if any(r.attribute == JOINT for r in result.proxies):
        columns.append(JOINT)
    cells = {(r.feature, r.attribute): r for r in result.proxies}
    features = _features_by_strength(result)
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    rows = []
    for feature in features:
        tds = []
        for column in columns:
            row = cells.get((feature, column))
            if row is None:
                tds.append("<td>–</td>")
                continue
            score = None if row.status == "insufficient_support" else row.score
            background, text = cell_colour(score)
            tds.append(
                f'<td style="background:{background};color:{text}" '
                f'title="{_e(feature)} / {_e(column)}: {_e(row.status)}">'
                f'<span class="value">{_score(score)}</span>'
                f'<span class="status">{_e(_STATUS_WORDS.get(row.status, row.status))}</span></td>'
            )
        rows.append(f'<tr><td class="name">{_e(feature)}</td>{"".join(tds)}</tr>')
    return (
        f'<table class="heatmap"><thead><tr><th class="name">feature</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _features_by_strength(result: AuditResult) -> list[str]:
    order: list[str] = []
    for row in result.sorted_proxies():
        if row.feature not in order:
            order.append(row.feature)
    order.extend(f for f in result.features if f not in order)
    return order


def _evidence_sentence(row: ProxyRow, result: AuditResult) -> str:
    who = _e(_attribute_words(row.attribute, result))
    measured = (
        f"The feature reveals <strong>{_percent(row.score)}</strong> of the uncertainty "
        f"about {who} (95% confidence interval {_percent(row.ci_low)} to "
        f"{_percent(row.ci_high)}), measured on {row.n:,} rows where "
        f"{_e(_known_words(row.attribute))}."
    )
    if row.predictive_information is not None:
        return (
            f"{measured} The table of feature values against {who} is too sparse for a direct "
            "estimate (too few rows per cell), so this is the information a model fitted on half "
            "of the rows keeps when tested on the other half."
        )
    return (
        f"{measured} If the feature were unrelated to {who}, an association this strong would "
        f"appear by chance with probability {_pval(row.p_value)} (after Holm correction for the "
        f"{_plural(len(result.proxies), 'test')} in this scan)."
    )


def _finding_table(rows: Sequence[ProxyRow]) -> str:
    head = (
        "<tr><th>attribute</th><th>status</th><th>score</th><th>95% CI</th>"
        "<th>p (Holm)</th><th>p (raw)</th><th>n</th><th>test</th><th>MI (nats)</th>"
        "<th>NMI</th></tr>"
    )
    body = []
    for row in rows:
        method = _METHOD_WORDS.get(row.method.lower(), row.method) if row.method else "–"
        p_holm, p_raw = _pval(row.p_value), _pval(row.p_raw)
        if row.held_out:
            method = "held-out information (table too sparse to test)"
            p_holm = p_raw = "–"
        body.append(
            f"<tr><td>{_e(row.attribute)}</td><td>{_badge(row.status)}</td>"
            f'<td class="num">{_score(row.score)}</td>'
            f'<td class="num">{_score(row.ci_low)} – {_score(row.ci_high)}</td>'
            f'<td class="num">{p_holm}</td>'
            f'<td class="num">{p_raw}</td><td class="num">{row.n:,}</td>'
            f'<td>{_e(method)}</td><td class="num">{_score(row.mi)}</td>'
            f'<td class="num">{_score(row.nmi)}</td></tr>'
        )
    return f"<table>{head}{''.join(body)}</table>"


def _flagged_sections(result: AuditResult) -> str:
    features = result.flagged_features
    if not features:
        return "<p>No single feature was flagged.</p>"
    sections = []
    for feature in features:
        rows = [r for r in result.sorted_proxies() if r.feature == feature]
        flagged = [r for r in rows if r.flagged]
        worst = "proxy" if any(r.status == "proxy" for r in flagged) else "review"
        sentences = "".join(
            f"<p class='explain'>{_evidence_sentence(r, result)}</p>" for r in flagged
        )
        sections.append(
            f'<div class="finding" id="feature-{_e(feature)}"><h3>{_e(feature)} '
            f"{_badge(worst)}</h3>{sentences}{_finding_table(rows)}</div>"
        )
    return "\n".join(sections)


def _single_flagged(result: AuditResult) -> set[str]:
    """Attributes some single feature is flagged for."""
    return {r.attribute for r in result.proxies if r.flagged}


def _combination_sentence(row: CombinationRow, result: AuditResult, levels: int) -> str:
    who = _e(_attribute_words(row.attribute, result))
    chance = (levels - 1) / levels if levels > 1 else 0.0
    measured = (
        f"<strong>{who}</strong>: balanced error rate <strong>{_percent(row.ber)}</strong> "
        f"(guessing among {levels} groups: {_percent(chance)}), AUC "
        f"<strong>{_score(row.auc)}</strong>, on {row.n:,} rows. "
    )
    if not row.flagged:
        return measured + "Not flagged: together the features predict it little better than chance."
    if row.attribute in _single_flagged(result):
        return measured + (
            "Flagged; a single feature flagged above already reveals it, so this mostly "
            "confirms that finding."
        )
    return measured + (
        "<strong>Flagged, although no single feature is</strong>: the information is spread "
        "over several features (for example two that encode the attribute only together), and "
        "a targeting model given all of them could pick it up."
    )


def _combinations(result: AuditResult) -> str:
    if not result.combinations:
        return "<p>The combination detector did not run on this file.</p>"
    levels = {a.name: len(a.levels) for a in result.attributes}
    used = result.combinations[0].features
    left_out = [f for f in result.features if used and f not in used]
    intro = (
        "<p>A gradient-boosted classifier was trained to predict each protected attribute from "
        f"{_plural(len(used), 'feature') if used else 'the features'} together and tested on "
        "rows it was not trained on (five-fold cross-fitting). The balanced error rate is the "
        "average, over the attribute's groups, of the share of people it assigns to the wrong "
        "group; the AUC is the chance that it ranks a member of a group above a non-member "
        "(0.5 is chance, 1.0 is perfect). It is flagged when its error is low enough to "
        f"guarantee a score of at least {_e(f'{result.thresholds.proxy:g}')} (Fano's inequality) "
        "and its AUC is at least 0.6.</p>"
    )
    if left_out:
        intro += f"<p class='small'>Left out as ID-like: {', '.join(_e(f) for f in left_out)}.</p>"
    sentences = []
    rows = []
    for row in result.combinations:
        k = levels.get(row.attribute, 2)
        sentences.append(f"<p class='explain'>{_combination_sentence(row, result, k)}</p>")
        badge = (
            '<span class="badge proxy">flagged</span>'
            if row.flagged
            else '<span class="badge clear">not flagged</span>'
        )
        rows.append(
            f"<tr><td>{_e(row.attribute)}</td><td>{badge}</td>"
            f'<td class="num">{_score(row.ber)}</td>'
            f'<td class="num">{_score(row.auc)}</td>'
            f'<td class="num">{_score(row.predictive_information)}</td>'
            f'<td class="num">{row.n:,}</td></tr>'
        )
    table = (
        "<table><tr><th>attribute</th><th>result</th><th>balanced error rate</th><th>AUC</th>"
        "<th>predictive information (nats)</th><th>n</th></tr>" + "".join(rows) + "</table>"
    )
    return intro + "".join(sentences) + table


def _scanned(result: AuditResult) -> str:
    rows = []
    for attribute in result.attributes:
        levels = ", ".join(f"{_e(level)} ({count:,})" for level, count in attribute.levels.items())
        rows.append(
            f"<tr><td>{_e(attribute.name)}</td><td>{levels}</td>"
            f'<td class="num">{attribute.unknown:,}</td></tr>'
        )
    entity = (
        f"<p>Rows were split into cross-fitting folds by <code>{_e(result.entity)}</code>.</p>"
        if result.entity
        else ""
    )
    return (
        f"<p>{result.rows:,} rows, {_plural(len(result.features), 'feature')} "
        f"({', '.join(_e(f) for f in result.features)}).</p>{entity}"
        "<table><tr><th>protected attribute</th><th>levels (rows)</th><th>rows unknown</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _limits(result: AuditResult) -> str:
    t = result.thresholds
    items: Iterable[str] = (
        "<strong>Score.</strong> Mutual information between the feature and the attribute, "
        "with the Miller-Madow bias correction, divided by the attribute's entropy: the share of "
        "the uncertainty about the attribute that knowing the feature removes (0 = none, "
        "1 = the feature determines the attribute). Numeric features are cut into quantile bins "
        "and rare categories are pooled, which can only lower the score.",
        "<strong>Confidence interval.</strong> 95% delta-method (Wald) interval around the "
        "corrected estimate.",
        "<strong>Significance.</strong> A G-test where every expected cell count is at least 5; "
        "otherwise a Pearson chi-squared or a permutation test, since the G-test gives too many "
        "false alarms on sparse tables. P-values are Holm-corrected across every feature and "
        "attribute in the scan.",
        "<strong>Flag rule.</strong> <em>review</em> when p (Holm) &lt; "
        f"{t.alpha:g} and the interval's lower end is at least {t.review:g}; <em>proxy</em> when "
        f"it is at least {t.proxy:g}. These are engineering defaults derived from bounds on "
        "prediction error, <strong>not legal standards</strong>; calibrate them for your panel.",
        "<strong>ID-like features.</strong> A feature with nearly one value per person looks "
        "perfectly informative to the estimate above, by chance alone. A sparsity guard catches "
        "tables with too few rows per cell or too many distinct values and marks them "
        "<em>too sparse</em> (status <code>insufficient_support</code>); such a feature is "
        "flagged only if its cross-fitted predictive information (fitted on one half of the "
        "rows, measured on the other) clears the same thresholds, which an ID never does.",
        "<strong>Combinations.</strong> A cross-fitted gradient-boosted classifier predicts each "
        "attribute from all features; it catches proxies that only appear in combination "
        "(such as two features whose parity encodes the attribute). Balanced error rate and AUC "
        "are measured on held-out rows.",
        "<strong>Scope.</strong> The scan measures association in this file only. It assumes the "
        "rows represent the people the features will be used on, and it says nothing about how "
        "a downstream model uses a feature. A feature that is not flagged can still be a proxy "
        "in a subgroup or on other data.",
    )
    return '<ul class="limits">' + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def render_html(result: AuditResult, *, generated: datetime | None = None) -> str:
    """The whole report as one HTML document."""
    when = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    notes = (
        "<h2>Notes on the input</h2><ul>"
        + "".join(f"<li>{_e(note)}</li>" for note in result.notes)
        + "</ul>"
        if result.notes
        else ""
    )
    title = f"Proxy audit: {result.file}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{STYLESHEET}</style></head>
<body>
<h1>Proxy audit of {_e(Path(result.file).name)}</h1>
<p class="meta">Generated {_e(when)} by <code>interceptor audit</code> from
<code>{_e(result.file)}</code>.</p>
<h2>Summary</h2>
{_summary(result)}
<h2>Scores by feature and protected attribute</h2>
{_legend(result)}
{_heatmap(result)}
<h2>Flagged features and their evidence</h2>
{_flagged_sections(result)}
<h2 id="combination">Features in combination</h2>
{_combinations(result)}
<h2>What was scanned</h2>
{_scanned(result)}
{notes}
<h2 id="limits">Methods and limits</h2>
{_limits(result)}
</body></html>
"""


def write_html(result: AuditResult, path: Path) -> None:
    """Write :func:`render_html` to ``path`` as UTF-8."""
    path.write_text(render_html(result), encoding="utf-8")
