"""The self-contained HTML safety report (``report.html`` of ``trial summarize``),
built with :mod:`ct_safety_nlp.report`: the tables, incidence by arm, grade
distribution, an AE timeline per subject, the reconciliation and the
excluded records. Every count links to an evidence list of the episodes
behind it, and every episode to its mentions: document id, visit, and the
sentence with the mention marked."""

from __future__ import annotations

import html
import re
from typing import Any, Dict, List, Optional, Sequence

from ...report import Page, bar_chart, html_table, timeline_chart
from ..inputs import Excluded, Subject
from .episodes import Episode
from .tables import OVERVIEW_CATEGORIES, arms_of, n_pct

GRADE_COLORS = {
    "Grade 1": "#56B4E9", "Grade 2": "#009E73", "Grade 3": "#E69F00", "Grade 4": "#D55E00", "Grade 5": "#000000",
    "Grade missing": "#999999",
}


class _Evidence:
    """Numbered evidence lists: each count cell links to one."""

    def __init__(self, episodes: Dict[str, Episode]):
        self.episodes = episodes
        self.lists: List[tuple] = []

    def link(self, label: str, episode_ids: Sequence[str]) -> Optional[str]:
        if not episode_ids:
            return None
        anchor = f"ev-{len(self.lists) + 1}"
        self.lists.append((anchor, label, list(episode_ids)))
        return f"#{anchor}"

    def render(self) -> str:
        out = []
        for anchor, label, ids in self.lists:
            items = []
            for eid in ids:
                ep = self.episodes.get(eid)
                docs = ", ".join(html.escape(d) for d in ep.documents) if ep and ep.documents else ", ".join(html.escape(w) for w in (ep.edc_where if ep else []))
                items.append(f'<li><a href="#{_ep_anchor(eid)}">{html.escape(eid)}</a> <span class="note">{docs}</span></li>')
            out.append(f'<div id="{anchor}"><h3>{html.escape(label)}</h3><ul>{"".join(items)}</ul></div>')
        return "\n".join(out)


def _ep_anchor(episode_id: str) -> str:
    return "ep-" + re.sub(r"[^A-Za-z0-9_-]+", "-", episode_id)


def _marked(sentence: str, start: int, end: int, offset: int) -> str:
    a, b = start - offset, end - offset
    if not (0 <= a <= b <= len(sentence)):
        return html.escape(sentence)
    return html.escape(sentence[:a]) + "<mark>" + html.escape(sentence[a:b]) + "</mark>" + html.escape(sentence[b:])


def build_report(
    *,
    subjects: Dict[str, Subject],
    episodes: Sequence[Episode],
    overview: Sequence[Dict[str, Any]],
    by_term: Sequence[Dict[str, Any]],
    by_soc: Sequence[Dict[str, Any]],
    by_grade: Sequence[Dict[str, Any]],
    reconciliation: Optional[Sequence[Dict[str, Any]]],
    excluded: Sequence[Excluded],
    counts: Dict[str, Any],
    title: str = "Trial safety summary",
    subtitle: Optional[str] = None,
    max_timeline_rows: int = 400,
) -> Page:
    arms = arms_of(subjects)
    pop = {a: sum(1 for s in subjects.values() if s.saffl and s.arm == a) for a in arms}
    by_id = {e.episode_id: e for e in episodes}
    ev = _Evidence(by_id)
    page = Page(title, subtitle=subtitle or "Treatment-emergent adverse events from annotated documents; every count links to the sentences behind it.")

    summary_rows = [{"what": k, "value": v} for k, v in counts.items()]
    page.section(
        "Summary",
        html_table(summary_rows, ["what", "value"], links={"value": lambda r: "#excluded" if r["what"] == "excluded records" else None})
        + html_table([{"arm": a, "N": pop[a]} for a in arms], ["arm", "N"], caption="Safety population (denominators)"),
        anchor="summary",
    )

    # overview
    ov = {(r["arm"], r["category"]): r for r in overview}
    rows = []
    for cat, label in OVERVIEW_CATEGORIES.items():
        row = {"category": label}
        for a in arms:
            r = ov[(a, cat)]
            row[a] = n_pct(r["subjects"], pop[a])
            row[f"_{a}"] = ev.link(f"{label}: {a}", r["_episodes"])
        rows.append(row)
    page.section(
        "Overview",
        html_table(rows, ["category"] + arms, headers={a: f"{a} (N={pop[a]})" for a in arms}, links={a: f"_{a}" for a in arms}),
        anchor="overview", note="Subjects with at least one treatment-emergent AE (TEAE) of each kind; n (%) of the arm's safety population.",
    )

    # incidence chart (terms by percent per arm)
    term_keys = list(dict.fromkeys((r["soc"], r["term"]) for r in by_term))[:25]
    tr = {(r["arm"], r["soc"], r["term"]): r for r in by_term}
    if term_keys:
        series = {a: [float(tr[(a, s, t)]["percent"] or 0) for s, t in term_keys] for a in arms}
        links = {a: [ev.link(f"{t}: {a}", tr[(a, s, t)]["_episodes"]) for s, t in term_keys] for a in arms}
        chart = bar_chart([t for _, t in term_keys], series, title="Incidence of TEAEs by term and arm (% of subjects)",
                          x_label="% of subjects", horizontal=True, links=links)
    else:
        chart = "<p>No treatment-emergent adverse events.</p>"
    page.section("Incidence by arm", chart, anchor="incidence", note="The most frequent terms (up to 25), in the order of the table below.")

    # SOC / term table
    soc_rows = {(r["arm"], r["soc"]): r for r in by_soc}
    rows = []
    for soc in dict.fromkeys(r["soc"] for r in by_soc):
        row = {"soc / term": soc.upper()}
        for a in arms:
            r = soc_rows[(a, soc)]
            row[a] = n_pct(r["subjects"], pop[a])
            row[f"{a} events"] = r["events"]
            row[f"_{a}"] = ev.link(f"{soc}: {a}", r["_episodes"])
        rows.append(row)
        for term in dict.fromkeys(r["term"] for r in by_term if r["soc"] == soc):
            row = {"soc / term": "\u2003" + term}
            for a in arms:
                r = tr[(a, soc, term)]
                row[a] = n_pct(r["subjects"], pop[a])
                row[f"{a} events"] = r["events"]
                row[f"_{a}"] = ev.link(f"{term}: {a}", r["_episodes"])
            rows.append(row)
    cols = ["soc / term"] + [c for a in arms for c in (a, f"{a} events")]
    page.section(
        "TEAEs by system organ class and term",
        html_table(rows, cols, headers={a: f"{a} (N={pop[a]}) n (%)" for a in arms}, links={a: f"_{a}" for a in arms}),
        anchor="by-term", note="Each subject counted once per term and once per SOC; events = episodes.",
    )

    # grade distribution
    overall = [r for r in by_grade if not r["soc"]]
    keys = [f"grade_{g}" for g in range(1, 6)] + ["grade_missing"]
    names = [f"Grade {g}" for g in range(1, 6)] + ["Grade missing"]
    series = {n: [float(next(r for r in overall if r["arm"] == a)[k]) for a in arms] for k, n in zip(keys, names)}
    chart = bar_chart(arms, series, title="Subjects by worst TEAE grade", y_label="subjects", stacked=True,
                      value_format="{:.0f}", colors=GRADE_COLORS, width=640, bar_size=40)
    short = ["1", "2", "3", "4", "5", "missing"]
    grade_cells = {(r["arm"], r["soc"], r["term"]): r for r in by_grade}
    grows = []
    for soc, term in dict.fromkeys((r["soc"], r["term"]) for r in by_grade):
        row = {"soc / term": "Any TEAE" if not soc else (("\u2003" + term) if term else soc.upper())}
        for a in arms:
            r = grade_cells[(a, soc, term)]
            for k, sh in zip(keys, short):
                row[f"{a} {sh}"] = r[k]
        grows.append(row)
    gcols = ["soc / term"] + [f"{a} {sh}" for a in arms for sh in short]
    page.section("Grade distribution", chart + html_table(grows, gcols), anchor="grades",
                 note="Subjects by worst grade (columns: arm and grade); 'missing' when none of the subject's episodes there is graded.")

    # timeline
    tl_rows = []
    for e in [e for e in episodes if e.onset_day is not None][:max_timeline_rows]:
        days = [m.study_day for m in e.mentions if m.study_day is not None]
        end = e.end_day if e.end_day is not None else (max(days) if days else e.onset_day)
        key = f"Grade {e.worst_grade}" if e.worst_grade else "Grade missing"
        tl_rows.append({
            "label": f"{e.usubjid} {e.term}",
            "segments": [{"start": e.onset_day - 0.5 if end == e.onset_day else e.onset_day, "end": end + 0.5 if end == e.onset_day else end, "color": key,
                          "title": f"{e.episode_id}: day {e.onset_day}-{end}, worst grade {e.worst_grade or 'missing'}, TEAE {e.teae or 'N'}",
                          "href": f"#{_ep_anchor(e.episode_id)}"}],
            "markers": [{"at": d, "symbol": "circle", "title": f"mention on day {d}"} for d in sorted(set(days))],
        })
    body = timeline_chart(tl_rows, title="AE episodes per subject (study day; day 1 = first dose)", x_label="study day", colors=GRADE_COLORS) if tl_rows else "<p>No dated episodes.</p>"
    page.section("AE timeline per subject", body, anchor="timeline", note="Bars: episodes from onset to end (or last mention); dots: the visits that mention them.")

    if reconciliation is not None:
        for r in reconciliation:
            r["_ep"] = ev.link(f"{r['usubjid']} {r['term']} (text)", r["_episodes"])
        recon_cols = ["usubjid", "arm", "term", "status", "text_worst_grade", "edc_worst_grade", "grade_agrees", "text_serious", "edc_serious", "serious_agrees", "edc_where"]
        counts_by = {}
        for r in reconciliation:
            counts_by[r["status"]] = counts_by.get(r["status"], 0) + 1
        page.section(
            "Reconciliation with the EDC",
            f"<p>{' · '.join(f'{k}: {v}' for k, v in sorted(counts_by.items()))}</p>" + html_table(reconciliation, recon_cols, links={"term": "_ep"}),
            anchor="reconciliation", note="Per subject and term; terms matched case- and spelling-insensitively (DIARRHOEA = Diarrhea).",
        )

    # episodes with their mentions
    parts = []
    for e in episodes:
        items = []
        for m in e.mentions:
            items.append(
                f"<li><b>{html.escape(m.doc_id)}</b> (visit {m.visit_date.isoformat() if m.visit_date else 'undated'}, day {m.study_day if m.study_day is not None else '?'}, "
                f"grade {m.grade if m.grade is not None else '-'}): {_marked(m.sentence, m.start_char, m.end_char, m.sentence_start)}</li>"
            )
        for w in e.edc_where:
            items.append(f"<li>EDC record {html.escape(w)}</li>")
        facts = (f"{html.escape(e.soc)} · onset {e.onset or '?'} · end {e.end or '-'} · worst grade {e.worst_grade or '-'} · "
                 f"serious {'Y' if e.serious else 'N'} · related {'Y' if e.related else 'N'} · action {html.escape(e.action_taken or '-')} · "
                 f"outcome {html.escape(e.outcome or '-')} · TEAE {e.teae or 'N'}")
        parts.append(f'<div id="{_ep_anchor(e.episode_id)}"><h3>{html.escape(e.episode_id)}</h3><p class="note">{facts}</p><ul>{"".join(items)}</ul></div>')
    page.section("Episodes and their sentences", "\n".join(parts) or "<p>No episodes.</p>", anchor="episodes")
    page.section("Evidence behind each count", ev.render() or "<p>No counts.</p>", anchor="evidence")
    page.section(
        "Excluded records",
        html_table([x.as_row() for x in excluded], ["kind", "record", "usubjid", "where", "reason"]) if excluded else "<p>None.</p>",
        anchor="excluded", note=f"{len(excluded)} records left out of the tables, each with its reason (also excluded.csv).",
    )
    return page
