"""axe-core inside the real WebView: the serious and critical WCAG 2.1 A/AA violations of what is on screen."""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).resolve().parents[2] / "ui" / "node_modules" / "axe-core" / "axe.min.js"

AXE_RUN_JS = """
const done = arguments[arguments.length - 1];
axe.run(document, {
  runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
  resultTypes: ['violations'],
}).then(
  (r) => done(r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 4).map((n) => n.target.join(' ') + ' — ' + (n.failureSummary || '').split('\\n').slice(1, 2).join(''))}))),
  (e) => done({error: String(e)}),
);
"""


def axe_problems(driver, label: str) -> list[str]:
    """One line per serious or critical violation (rule, help, the first few elements); [] when none."""
    driver.set_script_timeout(120)
    if not driver.execute_script("return !!window.axe;"):
        driver.execute_script(AXE.read_text())
    found = driver.execute_async_script(AXE_RUN_JS)
    if isinstance(found, dict):
        return [f"{label}: axe failed to run: {found['error']}"]
    return [
        f"{label}: axe {v['impact']} {v['id']} ({v['help']}): {v['nodes']}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def assert_accessible(driver, label: str) -> None:
    problems = axe_problems(driver, label)
    assert not problems, "\n".join(problems)
