"""The study plan's progress tracker: in a real browser, and against its markdown template.

The tracker (book/_static/study-plan-tracker.js) keeps a reader's ticks in localStorage. The
browser test ticks a box on the built overview page, reloads, and expects the tick, the
progress bar and the label to have survived; it reuses the server and browser fixtures of
tests/test_site_browser.py (same Chromium, same offline rules). The other tests need no
browser: the template a reader downloads must list exactly the items the site shows.
"""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from conftest import ROOT, SITE, need_built
from test_site_browser import browser, server  # noqa: F401 - pytest fixtures, used by name

STATIC = ROOT / "book" / "_static"
TRACKER_JS = STATIC / "study-plan-tracker.js"
TEMPLATE = STATIC / "study-plan-tracker-template.md"
OVERVIEW = "chapters/04-study-plan/00-overview.html"


def plan_data() -> dict:
    text = TRACKER_JS.read_text(encoding="utf-8")
    match = re.search(r"/\* PLAN-DATA \*/(.*?)/\* END PLAN-DATA \*/", text, re.DOTALL)
    assert match, "study-plan-tracker.js lost its PLAN-DATA markers"
    return json.loads(match.group(1))


def test_template_lists_the_same_items_as_the_site():
    plan = plan_data()
    template = TEMPLATE.read_text(encoding="utf-8")
    ids_in_template = re.findall(r"- \[ \] (.+?)  <!-- (w\d-[\w-]+) -->", template)
    expected = [(text, item_id) for week in plan.values() for item_id, text in week["core"] + week["code"]]
    assert ids_in_template == expected
    for week in plan.values():
        assert f"## {week['title']}" in template
    for section in ("### Key learnings", "### Blockers", "### Time log"):
        assert template.count(section) == len(plan)


def test_item_ids_are_unique():
    ids = [i for week in plan_data().values() for i, _ in week["core"] + week["code"]]
    assert len(ids) == len(set(ids))


@pytest.mark.browser
def test_tracker_ticks_survive_a_reload(browser, server):  # noqa: F811 - fixtures
    from selenium.webdriver.common.by import By

    need_built(SITE / OVERVIEW, "the built study-plan overview page")
    browser.get(f"{server}/{OVERVIEW}")
    browser.execute_script("window.localStorage.clear();")
    browser.refresh()

    def week1():
        return browser.find_element(By.CSS_SELECTOR, '.micourse-tracker[data-week="1"]')

    boxes = week1().find_elements(By.CSS_SELECTOR, 'input[type="checkbox"]')
    assert len(boxes) >= 3, "the week-1 tracker did not draw its checkboxes (did the script load?)"
    assert not any(b.is_selected() for b in boxes)
    assert week1().find_element(By.CSS_SELECTOR, ".micourse-tracker-fill").get_attribute("style") in ("", "width: 0%;")

    first_id = boxes[0].get_attribute("data-item")
    boxes[0].click()
    hours = week1().find_element(By.CSS_SELECTOR, 'input[type="number"]')
    hours.send_keys("3")
    assert boxes[0].is_selected()

    browser.refresh()
    box = week1().find_element(By.CSS_SELECTOR, f'input[data-item="{first_id}"]')
    assert box.is_selected(), "the tick did not survive the reload"
    n = len(week1().find_elements(By.CSS_SELECTOR, 'input[type="checkbox"]'))
    label = week1().find_element(By.CSS_SELECTOR, ".micourse-tracker-label").text
    assert label.startswith(f"1 of {n} done"), label
    assert "3 of 12 hours" in label, label
    width = week1().find_element(By.CSS_SELECTOR, ".micourse-tracker-fill").get_attribute("style")
    assert f"width: {round(100 / n)}%" in width, width
    # other weeks are untouched
    other = browser.find_elements(By.CSS_SELECTOR, '.micourse-tracker[data-week="2"] input[type="checkbox"]')
    assert other and not any(b.is_selected() for b in other)

    # the downloadable template is served by the site, and it is the file in the repository
    link = browser.find_element(By.CSS_SELECTOR, "a.micourse-tracker-download").get_attribute("href")
    with urllib.request.urlopen(link, timeout=10) as response:
        assert response.read().decode("utf-8") == TEMPLATE.read_text(encoding="utf-8")
    browser.execute_script("window.localStorage.clear();")
