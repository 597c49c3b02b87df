"""The patient's main flow with the keyboard only: sign in, create a credential, copy its secret, preview what
it can see, delete it. No click anywhere: every step is Tab, Shift+Tab, Enter, Escape or typing, sent to
whatever has focus, as a person without a pointer would."""

from __future__ import annotations

import subprocess

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

TIMEOUT = 30
MAX_TABS = 80


def tid(name: str) -> tuple[str, str]:
    return (By.CSS_SELECTOR, f'[data-testid="{name}"]')


def keys(app, *ks) -> None:
    ActionChains(app.driver).send_keys(*ks).perform()


def focused_matches(app, selector: str) -> bool:
    return app.driver.execute_script("return !!document.activeElement && document.activeElement.matches(arguments[0]);", selector)


def tab_to(app, selector: str, backwards: bool = False) -> None:
    """Presses Tab (or Shift+Tab) until focus is on `selector`; fails if it is not reachable."""
    seen = []
    for _ in range(MAX_TABS):
        if focused_matches(app, selector):
            return
        if backwards:
            ActionChains(app.driver).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
        else:
            keys(app, Keys.TAB)
        seen.append(app.driver.execute_script(
            "const e = document.activeElement; return e ? (e.dataset.testid || e.id || e.tagName) : '';"))
    raise AssertionError(f"{selector} is not reachable with Tab; focus went through {seen}")


def clipboard() -> str:
    return subprocess.run(["xclip", "-o", "-selection", "clipboard"], capture_output=True, text=True, timeout=10).stdout


def test_the_patient_flow_works_with_the_keyboard_only(app):
    w = WebDriverWait(app.driver, TIMEOUT)
    w.until(EC.visibility_of_element_located(tid("demo-patient")))
    tab_to(app, '[data-testid="demo-patient"]')
    keys(app, Keys.ENTER)
    w.until(EC.visibility_of_element_located(tid("sign-out")))

    # Create: Enter on "New credential" opens the dialog with focus in the name; Enter submits it.
    tab_to(app, '[data-testid="new-credential"]')
    keys(app, Keys.ENTER)
    w.until(lambda d: focused_matches(app, "#credential-name"))
    keys(app, "Keyboard app")
    keys(app, Keys.ENTER)
    w.until(EC.visibility_of_element_located(tid("show-once")))

    # Copy: the secret reaches the real clipboard.
    tab_to(app, '[data-testid="copy-client-secret"]')
    keys(app, Keys.ENTER)
    w.until(lambda d: clipboard().startswith("pcs_app_"))
    tab_to(app, '[data-testid="done"]')
    keys(app, Keys.ENTER)
    card = '[data-testid="credential-card"][data-name="Keyboard app"]'
    w.until(EC.visibility_of_element_located((By.CSS_SELECTOR, card)))

    # Preview: opens, shows counts, Escape closes it and gives focus back to the button that opened it.
    tab_to(app, f'{card} [data-testid="preview"]')
    keys(app, Keys.ENTER)
    w.until(EC.visibility_of_element_located(tid("preview-panel")))
    w.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid^="count-"]'))
    keys(app, Keys.ESCAPE)
    w.until(EC.invisibility_of_element_located(tid("preview-panel")))
    assert focused_matches(app, f'{card} [data-testid="preview"]'), "focus returns to the Preview button"

    # Delete: the confirmation takes focus; its confirm button is reachable and Enter deletes.
    tab_to(app, f'{card} [data-testid="delete"]')
    keys(app, Keys.ENTER)
    w.until(EC.visibility_of_element_located(tid("confirm")))
    assert app.driver.execute_script("return !!document.activeElement.closest('[role=dialog], [role=alertdialog]');"), \
        "focus moves into the confirmation"
    tab_to(app, '[data-testid="confirm"]')
    keys(app, Keys.ENTER)
    w.until(EC.invisibility_of_element_located((By.CSS_SELECTOR, card)))
    w.until(lambda d: any("was deleted" in t for t in d.execute_script(
        "return Array.from(document.querySelectorAll('[data-testid=toast]'), e => e.textContent);")))
    # Focus is somewhere sensible after the card left, not lost on <body>.
    assert not app.driver.execute_script("return document.activeElement === document.body;"), \
        "after the delete, focus is not dropped on the page body"
