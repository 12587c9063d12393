"""Run axe-core (npm, node_modules/axe-core) on a Playwright page and fail on serious findings.

The one place the browser tests' accessibility checks live: `prepare` loads axe into every
frame of a browser context (an init script, which the pages' strict CSP does not block) and
`check` runs it in the light and the dark colour scheme, failing with each rule id, impact
and target node for every violation whose impact is serious or critical.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from conftest import service_missing

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
SCHEMES = ("light", "dark")
RUN = """async () => {
  const result = await window.axe.run(document, {resultTypes: ["violations"]});
  const shown = (list) => list.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
  }));
  return {violations: shown(result.violations), incomplete: shown(result.incomplete),
          passes: result.passes.length};
}"""


def prepare(context: Any) -> Any:
    """Load axe into every page and frame the context opens; a skip (in CI a failure) if absent."""
    if not AXE.exists():
        service_missing("axe-core", f"{AXE} is missing: scripts/install runs npm ci")
    context.add_init_script(path=str(AXE))
    return context


def violations(page: Any, label: str = "") -> list[dict[str, Any]]:
    """Run axe on the page as it is and return its serious and critical violations.

    With LIVEBLOG_AXE_LOG=<file>, every violation of any impact and what axe could not
    decide (`incomplete`) are appended to that file, one JSON line per check, and a
    full-page screenshot is saved beside it.
    """
    result: dict[str, Any] = page.evaluate(RUN)
    found: list[dict[str, Any]] = result["violations"]
    if os.environ.get("LIVEBLOG_AXE_LOG"):
        with open(os.environ["LIVEBLOG_AXE_LOG"], "a", encoding="utf-8") as log:
            log.write(json.dumps({"page": label, "url": page.url, **result}) + "\n")
        name = "".join(c if c.isalnum() else "-" for c in label.lower()).strip("-")
        page.screenshot(path=f"{os.environ['LIVEBLOG_AXE_LOG']}-{name}.png", full_page=True)
    return [v for v in found if v["impact"] in BLOCKING]


def describe(label: str, found: list[dict[str, Any]]) -> str:
    """Say which rules failed where, one line per node."""
    lines = [f"{label}: {len(found)} serious or critical axe violations"]
    for v in found:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
        lines.extend(f"    {n['target']}: {n['summary']}" for n in v["nodes"][:8])
    return "\n".join(lines)


def check(page: Any, label: str) -> None:
    """Fail if axe finds a serious or critical violation in either colour scheme."""
    problems = []
    try:
        for scheme in SCHEMES:
            page.emulate_media(color_scheme=scheme)
            found = violations(page, f"{label} ({scheme})")
            if found:
                problems.append(describe(f"{label} ({scheme})", found))
    finally:
        page.emulate_media(color_scheme="light")
    assert not problems, "\n".join(problems)
