"""Every screen of the real app, checked as a person with assistive needs would meet it.

For each screen, in light and in dark: axe-core (injected into the real WebView through WebDriver) must
find no serious or critical violation of WCAG 2.1 A/AA; with the text at 200 % in a 900 px window the page
must not scroll sideways and no text may be cut off; and the screen is saved at 1280×800 and 900×600 (and
at 200 % text) to tests/artifacts/a11y/ for people to look at.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from a11y import axe_problems
from conftest import ARTIFACTS, App

TIMEOUT = 30
SHOTS = ARTIFACTS / "a11y"
SIZES = ((1280, 800), (900, 600))

# Elements whose text would be cut off if they overflowed their own box while hiding the overflow.
CLIPPED_JS = """
const out = [];
for (const el of document.querySelectorAll('button, label, legend, h1, h2, h3, p, td, th, li, a, .badge, .chip, dt, dd, span, nav, div, ul, table')) {
  if (!el.offsetParent || !el.textContent.trim()) continue;
  const cs = getComputedStyle(el);
  // A box that scrolls sideways hides what is past its edge as surely as one that clips.
  if (['auto', 'scroll'].includes(cs.overflowX) && el.scrollWidth > el.clientWidth + 1 && !el.matches('pre, pre *, code')) {
    out.push('scrolls sideways: ' + el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).split(' ').join('.') : ''));
    continue;
  }
  const hides = ['hidden', 'clip'].includes(cs.overflowX) || ['hidden', 'clip'].includes(cs.overflowY);
  // An ellipsis with the full text in a title or an accessible name is a deliberate, readable cut.
  if (!hides || cs.textOverflow === 'ellipsis' && (el.title || el.getAttribute('aria-label'))) continue;
  if (el.closest('[aria-hidden=true], .sr-only, .visually-hidden')) continue;
  if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 2) {
    out.push(el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).split(' ').join('.') : '') + ': ' + el.textContent.trim().slice(0, 40));
  }
}
return out.slice(0, 10);
"""



def tid(name: str) -> tuple[str, str]:
    return (By.CSS_SELECTOR, f'[data-testid="{name}"]')


class Walk:
    """One walk through the app's screens in one theme, collecting what each check found."""

    def __init__(self, app: App, theme: str):
        self.app = app
        self.d = app.driver
        self.theme = theme
        self.problems: list[str] = []
        self.seen: list[str] = []

    def wait(self, locator, timeout=TIMEOUT):
        return WebDriverWait(self.d, timeout).until(EC.visibility_of_element_located(locator))

    def click(self, locator):
        """Clicks what `locator` finds once it is clickable; a list that re-renders meanwhile (the picker's, as
        answers come in) is looked up again rather than failing on the element it replaced."""
        def clicked(d):
            try:
                el = EC.element_to_be_clickable(locator)(d)
                if not el:
                    return False
                d.execute_script("arguments[0].scrollIntoView({block: 'center'});", el)
                el.click()
                return el
            except StaleElementReferenceException:
                return False

        return WebDriverWait(self.d, TIMEOUT).until(clicked)

    def settled(self):
        """No list still loading: every aria-busy region has its answer."""
        WebDriverWait(self.d, TIMEOUT).until(
            lambda d: d.execute_script(
                "return !document.querySelector('[aria-busy=true], .state.loading');"
            )
        )

    def check(self, name: str) -> None:
        self.settled()
        self.seen.append(name)
        label = f"{self.theme}/{name}"
        self.problems += axe_problems(self.d, label)
        SHOTS.mkdir(parents=True, exist_ok=True)
        for w, h in SIZES:
            self.d.set_window_size(w, h)
            self.d.save_screenshot(str(SHOTS / f"{self.theme}-{name}-{w}x{h}.png"))
        # 200 % text at 900 px, through the app's own shortcut (Ctrl+= four times).
        for _ in range(4):
            self.text_key("=")
        try:
            assert self.d.execute_script("return document.documentElement.dataset.textSize;") == "200"
            self.hint_gone()
            overflow = self.d.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;"
            )
            if overflow > 0:
                self.problems.append(f"{label}: at 200 % text the page is {overflow}px wider than 900 px")
            clipped = self.d.execute_script(CLIPPED_JS)
            if clipped:
                self.problems.append(f"{label}: at 200 % text these are cut off: {clipped}")
            self.d.save_screenshot(str(SHOTS / f"{self.theme}-{name}-900x600-text200.png"))
        finally:
            self.text_key("0")
            self.d.set_window_size(1280, 800)
            self.hint_gone()

    def hint_gone(self) -> None:
        """The text size's status line leaves by itself (1.5 s); pictures are taken without it."""
        WebDriverWait(self.d, TIMEOUT).until(
            lambda d: d.execute_script("const e = document.querySelector('[data-testid=text-size]'); return !e || e.hidden;")
        )

    def text_key(self, key: str) -> None:
        ActionChains(self.d).key_down(Keys.CONTROL).send_keys(key).key_up(Keys.CONTROL).perform()

    def escape(self):
        self.d.switch_to.active_element.send_keys(Keys.ESCAPE)

    def sign_in_as(self, who: str):
        self.click(tid(f"demo-{who}"))
        self.wait(tid("sign-out"))

    def sign_out(self):
        self.click(tid("sign-out"))
        self.wait(tid("demo-admin"))


def walk_every_screen(w: Walk) -> None:
    w.d.set_window_size(1280, 800)
    w.wait(tid("demo-patient"))
    w.check("sign-in")
    w.click(tid("change-server"))
    w.wait(tid("server-url"))
    w.check("servers")
    w.escape()

    # The patient: apps, the show-once secret, preview, history, the delete confirmation, connected apps.
    w.sign_in_as("patient")
    w.click(tid("nav-apps"))
    w.check("patient-apps")
    w.click(tid("new-credential"))
    w.wait((By.ID, "credential-name")).send_keys("Phone health app")
    w.check("patient-new-credential")
    w.click(tid("create-credential"))
    w.wait(tid("show-once"))
    w.check("patient-show-once")
    w.click(tid("done"))
    card = '[data-testid="credential-card"][data-name="Phone health app"]'
    w.wait((By.CSS_SELECTOR, card))
    w.click((By.CSS_SELECTOR, f'{card} [data-testid="preview"]'))
    w.wait(tid("preview-panel"))
    WebDriverWait(w.d, TIMEOUT).until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid^="count-"]'))
    w.check("patient-preview")
    w.escape()
    w.click((By.CSS_SELECTOR, f'{card} [data-testid="history"]'))
    w.wait(tid("history-panel"))
    w.check("patient-history")
    w.escape()
    w.click((By.CSS_SELECTOR, f'{card} [data-testid="delete"]'))
    w.wait(tid("confirm"))
    w.check("patient-delete-confirm")
    w.click(tid("confirm"))
    w.wait((By.CSS_SELECTOR, '[data-testid="receipt"][data-name="Phone health app"]'))
    w.check("patient-receipt")
    w.sign_out()

    # The administrator: users, staff keys, keys to review; app approvals.
    w.sign_in_as("admin")
    w.click(tid("nav-users"))
    w.check("admin-users")
    edit = w.d.find_elements(*tid("edit-user"))
    if edit:
        w.click(tid("edit-user"))
        w.wait(tid("save-user"))
        w.check("admin-edit-user")
        w.escape()
    w.click(tid("nav-approvals"))
    w.check("admin-approvals")
    w.sign_out()

    # The developer: keys, a new key, apps, the API documentation.
    w.sign_in_as("developer")
    w.click(tid("nav-developer"))
    w.click(tid("tab-keys"))
    w.check("developer-keys")
    w.click(tid("new-key"))
    w.wait((By.ID, "key-name"))
    w.check("developer-new-key")
    w.escape()
    w.click(tid("tab-apps"))
    w.check("developer-apps")
    w.click(tid("register-app"))
    w.check("developer-register-app")
    w.escape()
    w.click(tid("tab-docs"))
    w.check("developer-docs")
    w.sign_out()

    # The provider: keys, a new key with the patient picker, connected apps.
    w.sign_in_as("provider")
    w.click(tid("nav-provider"))
    w.check("provider-keys")
    w.click(tid("new-provider-key"))
    w.wait((By.ID, "patient-search")).send_keys("Re")
    WebDriverWait(w.d, TIMEOUT).until(lambda d: d.find_elements(*tid("patient-option")))
    w.check("provider-new-key")
    w.escape()
    w.click(tid("nav-connected"))
    w.check("provider-connected")

    # A key whose reach changed: the provider makes one, the administrator takes the provider out of the
    # practice, and the provider's Needs attention says what the key no longer reaches.
    w.click(tid("nav-provider"))
    w.click(tid("new-provider-key"))
    w.wait((By.ID, "provider-key-name")).send_keys("Ward round")
    w.wait((By.ID, "patient-search")).send_keys("Reyna")
    w.click((By.CSS_SELECTOR, '[data-testid="patient-option"]'))
    w.wait(tid("patient-chip"))
    w.click(tid("create-provider-key"))
    w.click(tid("done"))
    w.sign_out()
    w.sign_in_as("admin")
    w.click(tid("nav-users"))
    w.click((By.CSS_SELECTOR, '[data-testid="user-row"][data-username="provider"] [data-testid="edit-user"]'))
    box = w.wait((By.CSS_SELECTOR, '[data-testid="edit-user-dialog"] input[data-testid^="practice-"]:checked'))
    box.click()
    w.click(tid("save-user"))
    WebDriverWait(w.d, TIMEOUT).until(EC.invisibility_of_element_located(tid("edit-user-dialog")))
    w.sign_out()
    w.sign_in_as("provider")
    w.click(tid("nav-provider"))
    w.wait((By.CSS_SELECTOR, '[data-testid="nudge"]'))
    w.check("provider-access-changed")
    w.sign_out()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_screen_passes_axe_and_survives_200_percent_text(theme):
    env = {"GTK_THEME": "Adwaita:dark"} if theme == "dark" else {}
    with tempfile.TemporaryDirectory(prefix=f"portico-a11y-{theme}-") as d:
        app = App(Path(d), extra_env=env)
        try:
            w = Walk(app, theme)
            dark = app.driver.execute_script("return matchMedia('(prefers-color-scheme: dark)').matches;")
            assert dark == (theme == "dark"), "the theme reaches the page"
            walk_every_screen(w)
            (SHOTS / f"{theme}-report.json").write_text(json.dumps({"screens": w.seen, "problems": w.problems}, indent=1))
            assert not w.problems, "\n".join(w.problems)
        finally:
            app.close()
